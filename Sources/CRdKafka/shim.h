// The C interface of librdkafka, found through pkg-config (`rdkafka`).
// Only Sources/BatonKafka/RDKafka/ imports this module.
#ifndef BATON_CRDKAFKA_SHIM_H
#define BATON_CRDKAFKA_SHIM_H

#include <librdkafka/rdkafka.h>

#endif
