// The header is all there is: one translation unit so that the package builds it as a module.
#include "vector_isa.h"
