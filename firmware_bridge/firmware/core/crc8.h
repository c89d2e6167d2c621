// CRC-8/SMBUS (polynomial 0x07, init 0x00, no reflection, no final XOR): the line checksum.
#pragma once
#include <stdint.h>

inline uint8_t crc8_update(uint8_t crc, uint8_t byte) {
    crc ^= byte;
    for (uint8_t i = 0; i < 8; ++i) {
        crc = (crc & 0x80) ? (uint8_t)((crc << 1) ^ 0x07) : (uint8_t)(crc << 1);
    }
    return crc;
}

inline uint8_t crc8(const char* data, uint8_t n) {
    uint8_t crc = 0;
    for (uint8_t i = 0; i < n; ++i) crc = crc8_update(crc, (uint8_t)data[i]);
    return crc;
}
