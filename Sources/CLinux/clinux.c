// Everything is inline in include/clinux.h; SwiftPM needs one source file for a C target.
#include "clinux.h"
