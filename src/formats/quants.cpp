#include "formats/quants.h"
