/* The one place the version is written. */
#ifndef GW_CORE_VERSION_H
#define GW_CORE_VERSION_H

#define GANTRY_VERSION "0.1.0"

#endif
