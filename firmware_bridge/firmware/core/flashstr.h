// String literals that stay in flash on the AVR (2 KB of SRAM cannot hold them) and are
// ordinary literals on the host. FS("text") makes one; fs_char() reads one character.
#pragma once
#include <string.h>

#ifdef __AVR__
#include <avr/pgmspace.h>
#define FS(s) PSTR(s)
inline char fs_char(const char* p) { return (char)pgm_read_byte(p); }
inline int fs_cmp(const char* ram, const char* flash) { return strcmp_P(ram, flash); }
#else
#define FS(s) (s)
inline char fs_char(const char* p) { return *p; }
inline int fs_cmp(const char* ram, const char* flash) { return strcmp(ram, flash); }
#endif
