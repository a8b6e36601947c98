/* A whole `dne prep crop` run: the input list, worker threads (one detector
 * each), the progress line, the summary, and dataset.json for labels. */
#ifndef DNE_PREP_RUN_H
#define DNE_PREP_RUN_H

#include "pipeline.h"

/* Runs the crop pipeline; the summary is printed on stderr unless o->quiet.
 * Bad input files never fail the run; an error returned here is about the
 * run itself (cascade, metadata, output folder). */
int prep_crop_run(const prep_options *o, gan_error *err);

#endif
