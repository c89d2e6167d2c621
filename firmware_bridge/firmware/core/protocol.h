// Protocol framing (see firmware_bridge/PROTOCOL.md): assembling and parsing command lines,
// and writing checksummed reply/event lines. Pure functions of bytes; no hardware.
#pragma once
#include <stdint.h>

namespace proto {

constexpr uint8_t MAX_LINE = 64;    // bytes of a command line before its line end
constexpr uint8_t MAX_OUT = 128;    // bytes of a reply or event line, "*CC\r\n" included
constexpr uint8_t MAX_ARGS = 3;
constexpr uint8_t RT_STOP = 0x18;   // realtime stop byte

enum Err : uint8_t {
    E_NONE = 0,
    E_CHECKSUM = 1,
    E_SYNTAX = 2,
    E_UNKNOWN = 3,
    E_ARG = 4,
    E_LIMIT = 5,
    E_BUSY = 6,
    E_FAULT = 7,
    E_DISABLED = 8,
    E_SWITCH = 9,
    E_OVERFLOW = 10,
    E_NOHOME = 11,
};

// Collects bytes into lines. feed() returns true when a complete line is ready in line().
class LineAssembler {
  public:
    bool feed(uint8_t byte);
    const char* line() const { return buf_; }
    uint8_t length() const { return len_; }
    // E_NONE, or E_OVERFLOW / E_SYNTAX when the finished line was too long / had bad bytes.
    Err status() const { return status_; }

  private:
    char buf_[MAX_LINE + 1] = {0};
    uint8_t len_ = 0;
    bool overflow_ = false;
    bool bad_ = false;
    bool ready_ = false;
    Err status_ = E_NONE;
};

struct Command {
    uint16_t seq;
    char name[8];
    uint8_t nargs;
    int32_t args[MAX_ARGS];
};

// Parse one line (without its line end). Returns E_NONE and fills cmd, or E_CHECKSUM,
// E_SYNTAX (framing, bad sequence number) or E_ARG (an argument that is not an int32).
// For E_ARG, cmd.seq is valid (the line itself arrived intact).
Err parse(const char* line, uint8_t n, Command& cmd);

// Builds one output line and appends "*CC\r\n".
class Writer {
  public:
    void begin() { len_ = 0; }
    Writer& str(const char* s);
    Writer& fstr(const char* flash);  // a FS("...") literal
    Writer& chr(char c);
    Writer& num(int32_t v);
    // Terminate with the checksum; returns the complete line.
    const char* finish();
    uint8_t length() const { return len_; }
    const char* data() const { return buf_; }

  private:
    char buf_[MAX_OUT + 1] = {0};
    uint8_t len_ = 0;
};

}  // namespace proto
