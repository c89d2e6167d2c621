#include "protocol.h"

#include "crc8.h"
#include "flashstr.h"

namespace proto {

bool LineAssembler::feed(uint8_t byte) {
    if (ready_) {  // the previous line has been handed out: start a new one
        ready_ = false;
        len_ = 0;
        overflow_ = false;
        bad_ = false;
    }
    if (byte == '\n') {
        if (len_ == 0 && !overflow_ && !bad_) return false;  // blank line: ignored
        status_ = overflow_ ? E_OVERFLOW : (bad_ ? E_SYNTAX : E_NONE);
        buf_[len_] = 0;
        ready_ = true;
        return true;
    }
    if (byte == '\r') return false;
    if (byte < 0x20 || byte > 0x7e) {
        bad_ = true;
        return false;
    }
    if (len_ >= MAX_LINE) {
        overflow_ = true;
        return false;
    }
    buf_[len_++] = (char)byte;
    return false;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// Parse a decimal int32 in [p, end); returns false when it is not one.
static bool parse_int(const char* p, const char* end, int32_t& out) {
    bool neg = false;
    if (p < end && *p == '-') {
        neg = true;
        ++p;
    }
    if (p >= end || end - p > 10) return false;
    int64_t v = 0;
    for (; p < end; ++p) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
    }
    if (neg) v = -v;
    if (v < -2147483647LL - 1 || v > 2147483647LL) return false;
    out = (int32_t)v;
    return true;
}

Err parse(const char* line, uint8_t n, Command& cmd) {
    cmd.seq = 0;
    cmd.nargs = 0;
    cmd.name[0] = 0;
    // checksum: the last '*' must be followed by exactly two hex digits
    if (n < 4 || line[n - 3] != '*') return E_SYNTAX;
    int hi = hexval(line[n - 2]), lo = hexval(line[n - 1]);
    if (hi < 0 || lo < 0) return E_SYNTAX;
    uint8_t body = (uint8_t)(n - 3);
    if (crc8(line, body) != (uint8_t)(hi * 16 + lo)) return E_CHECKSUM;
    const char* p = line;
    const char* end = line + body;
    // N<seq>
    if (p >= end || *p != 'N') return E_SYNTAX;
    ++p;
    const char* s = p;
    while (p < end && *p != ' ') ++p;
    int32_t seq;
    if (p == s || *s == '-' || !parse_int(s, p, seq) || seq < 1 || seq > 65535) return E_SYNTAX;
    cmd.seq = (uint16_t)seq;
    if (p >= end || *p != ' ') return E_SYNTAX;
    ++p;
    // command name
    s = p;
    while (p < end && *p != ' ') ++p;
    uint8_t len = (uint8_t)(p - s);
    if (len == 0 || len >= sizeof(cmd.name)) return E_SYNTAX;
    for (uint8_t i = 0; i < len; ++i) cmd.name[i] = s[i];
    cmd.name[len] = 0;
    // arguments
    while (p < end) {
        ++p;  // the space
        s = p;
        while (p < end && *p != ' ') ++p;
        if (cmd.nargs >= MAX_ARGS) return E_ARG;
        if (!parse_int(s, p, cmd.args[cmd.nargs])) return E_ARG;
        ++cmd.nargs;
    }
    return E_NONE;
}

Writer& Writer::chr(char c) {
    if (len_ < MAX_OUT - 5) buf_[len_++] = c;
    return *this;
}

Writer& Writer::str(const char* s) {
    while (*s) chr(*s++);
    return *this;
}

Writer& Writer::fstr(const char* s) {
    for (char c = fs_char(s); c; c = fs_char(++s)) chr(c);
    return *this;
}

Writer& Writer::num(int32_t v) {
    char tmp[12];
    uint8_t i = 0;
    uint32_t u = v < 0 ? (uint32_t)(-(v + 1)) + 1u : (uint32_t)v;
    do {
        tmp[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) chr('-');
    while (i) chr(tmp[--i]);
    return *this;
}

const char* Writer::finish() {
    static const char HEX[] = "0123456789ABCDEF";
    uint8_t c = crc8(buf_, len_);
    buf_[len_++] = '*';
    buf_[len_++] = HEX[c >> 4];
    buf_[len_++] = HEX[c & 15];
    buf_[len_++] = '\r';
    buf_[len_++] = '\n';
    buf_[len_] = 0;
    return buf_;
}

}  // namespace proto
