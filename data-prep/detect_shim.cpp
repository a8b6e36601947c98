// The thin C++ side of data-prep: OpenCV has no C interface for its cascade
// classifier, so this file wraps the few calls dne needs and turns exceptions
// into gan_error messages. No logic lives here beyond the calls themselves.
#include "detect.h"

#include <cstdlib>
#include <new>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>
#include <vector>

struct prep_detector {
    cv::CascadeClassifier cascade;
};

extern "C" prep_detector *prep_detector_load(const char *cascade_path, gan_error *err) {
    prep_detector *d = new (std::nothrow) prep_detector;
    if (!d) {
        gan_fail(err, "out of memory");
        return nullptr;
    }
    try {
        if (d->cascade.load(cascade_path) && !d->cascade.empty()) return d;
        gan_fail(err, "%s: not a readable OpenCV cascade", cascade_path);
    } catch (const cv::Exception &e) {
        gan_fail(err, "%s: %s", cascade_path, e.what());
    }
    delete d;
    return nullptr;
}

extern "C" void prep_detector_free(prep_detector *d) { delete d; }

extern "C" int prep_detect(prep_detector *d, const uint8_t *pixels, int width, int height, int channels,
                           const prep_detect_params *p, prep_face **faces, int *count, gan_error *err) {
    *faces = nullptr;
    *count = 0;
    if (channels != 1 && channels != 3) return gan_fail(err, "detect: %d channels (expected 1 or 3)", channels);
    try {
        cv::Mat image(height, width, channels == 1 ? CV_8UC1 : CV_8UC3, const_cast<uint8_t *>(pixels));
        cv::Mat grey;
        if (channels == 3)
            cv::cvtColor(image, grey, cv::COLOR_RGB2GRAY);
        else
            grey = image;
        cv::Mat equalized;
        cv::equalizeHist(grey, equalized);
        std::vector<cv::Rect> boxes;
        std::vector<int> neighbors;
        d->cascade.detectMultiScale(equalized, boxes, neighbors, p->scale_factor, p->min_neighbors, 0,
                                    cv::Size(p->min_size, p->min_size));
        if (boxes.empty()) return 0;
        *faces = static_cast<prep_face *>(std::malloc(boxes.size() * sizeof **faces));
        if (!*faces) return gan_fail(err, "out of memory");
        for (size_t i = 0; i < boxes.size(); i++)
            (*faces)[i] = prep_face{boxes[i].x, boxes[i].y, boxes[i].width, boxes[i].height,
                                    i < neighbors.size() ? neighbors[i] : 0};
        *count = static_cast<int>(boxes.size());
        return 0;
    } catch (const cv::Exception &e) {
        std::free(*faces);
        *faces = nullptr;
        return gan_fail(err, "detect: %s", e.what());
    } catch (const std::bad_alloc &) {
        return gan_fail(err, "detect: out of memory");
    }
}

extern "C" int prep_resize(const uint8_t *src, int src_w, int src_h, int channels, uint8_t *dst, int dst_w,
                           int dst_h, gan_error *err) {
    if (channels < 1 || channels > 4) return gan_fail(err, "resize: %d channels", channels);
    try {
        int type = CV_MAKETYPE(CV_8U, channels);
        cv::Mat in(src_h, src_w, type, const_cast<uint8_t *>(src));
        cv::Mat out(dst_h, dst_w, type, dst);
        bool shrinking = dst_w <= src_w && dst_h <= src_h;
        cv::resize(in, out, out.size(), 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LANCZOS4);
        if (out.data != dst) return gan_fail(err, "resize: OpenCV reallocated the output");
        return 0;
    } catch (const cv::Exception &e) {
        return gan_fail(err, "resize: %s", e.what());
    } catch (const std::bad_alloc &) {
        return gan_fail(err, "resize: out of memory");
    }
}

extern "C" void prep_set_opencv_threads(int n) { cv::setNumThreads(n); }
