#include "controller.h"

#include <string.h>

#include "flashstr.h"
#include "hal.h"

namespace fw {

namespace {
constexpr uint8_t EV_DONE = 1, EV_STOPPED = 2, EV_LIMIT = 4, EV_HOMED = 8, EV_NOHOME = 16;

bool is(const proto::Command& c, const char* name) { return fs_cmp(c.name, name) == 0; }

const char* state_name(uint8_t s) {
    switch (s) {
        case MOVING: return FS("moving");
        case HOMING: return FS("homing");
        case FAULT: return FS("fault");
        default: return FS("idle");
    }
}
}  // namespace

void Controller::boot() {
    hal::timer_stop();
    state_ = IDLE;
    pos_ = 0;
    target_ = 0;
    aim_ = 0;
    events_ = 0;
    home_phase_ = 0;
    limit_hit_ = 0;
    speed_ = motion::SPEED_DEFAULT;
    accel_ = motion::ACCEL_DEFAULT;
    lo_ = -DEFAULT_LIMIT;
    hi_ = DEFAULT_LIMIT;
    enabled_ = true;
    homed_ = false;
    fault_ = 0;
    last_seq_ = 0;
    last_len_ = 0;
    mark_ = 0;
    planner_.configure(speed_, accel_);
    hal::set_enable(true);
    out_.begin();
    out_.fstr(FS("!boot focuscam-motor " FW_VERSION " proto=")).num(PROTO_VERSION);
    out_.fstr(FS(" build=" FW_BUILD " target=" FW_TARGET));
    out_.finish();
    emit(out_.data(), out_.length());
}

int32_t Controller::position() {
    hal::irq_off();
    int32_t p = pos_;
    hal::irq_on();
    return p;
}

void Controller::emit(const char* line, uint8_t n) { hal::serial_write(line, n); }

void Controller::rx_byte(uint8_t byte) {
    if (byte == proto::RT_STOP) {
        realtime_stop();
        return;
    }
    if (in_.feed(byte)) handle_line();
}

void Controller::realtime_stop() {
    hal::irq_off();
    if (state_ == MOVING || state_ == HOMING) {
        hal::timer_stop();
        state_ = IDLE;
        home_phase_ = 0;
        target_ = pos_;
        aim_ = 0;
        event_pos_ = pos_;
        events_ |= EV_STOPPED;
    }
    hal::irq_on();
}

uint32_t Controller::on_step() {
    if (state_ != MOVING && state_ != HOMING) return 0;
    if (home_phase_ == 2) {  // backing off the low switch, one slow step at a time
        if (!hal::switch_lo()) {
            pos_ = 0;
            target_ = 0;
            aim_ = 0;
            home_phase_ = 0;
            state_ = IDLE;
            event_pos_ = 0;
            events_ |= EV_HOMED;
            return 0;
        }
    } else {
        bool pressed = dir_ > 0 ? hal::switch_hi() : hal::switch_lo();
        if (pressed) {
            if (home_phase_ == 1) {  // found the switch: back off the other way
                home_phase_ = 2;
                dir_ = 1;
                hal::set_dir(true);
                return planner_.start_constant(speed_ / 8 > motion::SPEED_MIN ? speed_ / 8 : motion::SPEED_MIN);
            }
            state_ = FAULT;
            fault_ = proto::E_SWITCH;
            target_ = pos_;
            aim_ = 0;
            limit_hit_ = dir_ > 0 ? 2 : 1;
            event_pos_ = pos_;
            events_ |= EV_LIMIT;
            return 0;
        }
        if (home_phase_ == 1 && planner_.taken() >= home_max_) {
            state_ = FAULT;
            fault_ = proto::E_NOHOME;
            home_phase_ = 0;
            target_ = pos_;
            aim_ = 0;
            events_ |= EV_NOHOME;
            return 0;
        }
    }
    hal::step_pulse();
    pos_ += dir_;
    if (state_ == MOVING && pos_ == target_) {
        state_ = IDLE;
        event_pos_ = pos_;
        events_ |= EV_DONE;
        return 0;
    }
    return planner_.next();
}

void Controller::start_move(int32_t target, int16_t aim) {
    int32_t pos = position();
    target_ = target;
    aim_ = aim;
    if (target == pos) {
        hal::irq_off();
        event_pos_ = pos;
        events_ |= EV_DONE;
        hal::irq_on();
        return;
    }
    dir_ = target > pos ? 1 : -1;
    hal::set_dir(dir_ > 0);
    uint32_t total = dir_ > 0 ? (uint32_t)(target - pos) : (uint32_t)(pos - target);
    uint32_t first = planner_.start(total);
    state_ = MOVING;
    hal::timer_start(first);
}

void Controller::poll() {
    hal::irq_off();
    uint8_t ev = events_;
    events_ = 0;
    int32_t p = event_pos_;
    uint8_t which = limit_hit_;
    hal::irq_on();
    if (!ev) return;
    if (ev & EV_STOPPED) {
        out_.begin();
        out_.fstr(FS("!stopped ")).num(p).finish();
        emit(out_.data(), out_.length());
    }
    if (ev & EV_DONE) {
        out_.begin();
        out_.fstr(FS("!done ")).num(p).finish();
        emit(out_.data(), out_.length());
    }
    if (ev & EV_LIMIT) {
        out_.begin();
        out_.fstr(which == 2 ? FS("!limit hi ") : FS("!limit lo ")).num(p).finish();
        emit(out_.data(), out_.length());
    }
    if (ev & EV_HOMED) {
        homed_ = true;
        out_.begin();
        out_.fstr(FS("!homed ")).num(p).finish();
        emit(out_.data(), out_.length());
    }
    if (ev & EV_NOHOME) {
        out_.begin();
        out_.fstr(FS("!fault ")).num(proto::E_NOHOME).fstr(FS(" homing found no limit switch")).finish();
        emit(out_.data(), out_.length());
    }
}

void Controller::handle_line() {
    proto::Err st = in_.status();
    if (st != proto::E_NONE) {
        reply_err(0, st, st == proto::E_OVERFLOW ? FS("line too long") : FS("bad characters in line"));
        return;
    }
    proto::Command c;
    proto::Err e = proto::parse(in_.line(), in_.length(), c);
    if (e == proto::E_CHECKSUM) {
        reply_err(0, e, FS("checksum mismatch, resend"));
        return;
    }
    if (e == proto::E_SYNTAX) {
        reply_err(0, e, FS("malformed line, resend"));
        return;
    }
    if (c.seq == last_seq_) {  // a resend: answer again, do not execute again
        emit(last_reply_, last_len_);
        return;
    }
    if (e == proto::E_ARG) {
        reply_err(c.seq, e, FS("bad argument"));
        return;
    }
    execute(c);
}

void Controller::begin_ok(uint16_t seq) {
    out_.begin();
    out_.fstr(FS("ok N")).num(seq);
}

void Controller::send_reply(uint16_t seq, bool remember) {
    out_.finish();
    if (remember) {
        memcpy(last_reply_, out_.data(), out_.length() + 1);
        last_len_ = out_.length();
        last_seq_ = seq;
    }
    emit(out_.data(), out_.length());
}

void Controller::reply_err(uint16_t seq, proto::Err code, const char* text) {
    out_.begin();
    out_.fstr(FS("err N")).num(seq).chr(' ').num(code).chr(' ').fstr(text);
    send_reply(seq, seq != 0);
}

void Controller::execute(const proto::Command& c) {
    const uint16_t s = c.seq;
    const uint8_t na = c.nargs;
    if (is(c, FS("ID"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("ID takes no argument"));
        begin_ok(s);
        out_.fstr(FS(" name=focuscam-motor version=" FW_VERSION " proto=")).num(PROTO_VERSION);
        out_.fstr(FS(" build=" FW_BUILD " target=" FW_TARGET));
        return send_reply(s, true);
    }
    if (is(c, FS("POS"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("POS takes no argument"));
        begin_ok(s);
        out_.fstr(FS(" pos=")).num(position());
        return send_reply(s, true);
    }
    if (is(c, FS("STOP"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("STOP takes no argument"));
        realtime_stop();
        begin_ok(s);
        out_.fstr(FS(" pos=")).num(position());
        return send_reply(s, true);
    }
    if (is(c, FS("STATUS"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("STATUS takes no argument"));
        hal::irq_off();
        uint8_t st = state_;
        int32_t p = pos_, t = target_;
        int16_t a = aim_;
        hal::irq_on();
        begin_ok(s);
        out_.fstr(FS(" state=")).fstr(state_name(st)).fstr(FS(" pos=")).num(p).fstr(FS(" target=")).num(t);
        out_.fstr(FS(" swlo=")).num(hal::switch_lo() ? 1 : 0).fstr(FS(" swhi=")).num(hal::switch_hi() ? 1 : 0);
        out_.fstr(FS(" en=")).num(enabled_ ? 1 : 0).fstr(FS(" homed=")).num(homed_ ? 1 : 0);
        out_.fstr(FS(" fault=")).num(st == FAULT ? fault_ : 0).fstr(FS(" mark=")).num(mark_);
        out_.fstr(FS(" aim=")).num(a);
        return send_reply(s, true);
    }
    if (is(c, FS("MOVE")) || is(c, FS("MOVR"))) {
        const bool absolute = is(c, FS("MOVE"));
        if (na != 1 && !(absolute && na == 2)) {
            return reply_err(s, proto::E_ARG, FS("MOVE takes steps [aim], MOVR one number of steps"));
        }
        if (na == 2 && (c.args[1] < -AIM_MAX || c.args[1] > AIM_MAX)) {
            return reply_err(s, proto::E_ARG, FS("MOVE aim takes -999..999 (1/1000 steps)"));
        }
        const int16_t aim = na == 2 ? (int16_t)c.args[1] : 0;
        if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
        if (state_ == FAULT) return reply_err(s, proto::E_FAULT, FS("in fault state, send CLR or HOME"));
        if (!enabled_) return reply_err(s, proto::E_DISABLED, FS("driver disabled, send EN 1"));
        int32_t pos = position();
        int64_t t = absolute ? (int64_t)c.args[0] : (int64_t)pos + c.args[0];
        if (t < lo_ || t > hi_) return reply_err(s, proto::E_LIMIT, FS("target outside soft limits"));
        int32_t target = (int32_t)t;
        if ((target > pos && hal::switch_hi()) || (target < pos && hal::switch_lo())) {
            return reply_err(s, proto::E_SWITCH, FS("limit switch pressed in that direction"));
        }
        begin_ok(s);
        out_.fstr(FS(" target=")).num(target);
        send_reply(s, true);
        start_move(target, aim);
        return;
    }
    if (is(c, FS("LIM"))) {
        if (na == 2) {
            if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
            if (c.args[0] > c.args[1]) return reply_err(s, proto::E_ARG, FS("LIM needs lo <= hi"));
            lo_ = c.args[0];
            hi_ = c.args[1];
        } else if (na != 0) {
            return reply_err(s, proto::E_ARG, FS("LIM takes none or two numbers"));
        }
        begin_ok(s);
        out_.fstr(FS(" lo=")).num(lo_).fstr(FS(" hi=")).num(hi_);
        return send_reply(s, true);
    }
    if (is(c, FS("SPEED"))) {
        if (na == 1) {
            if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
            if (c.args[0] < motion::SPEED_MIN || c.args[0] > motion::SPEED_MAX) {
                return reply_err(s, proto::E_ARG, FS("SPEED must be 10..5000 steps/s"));
            }
            speed_ = (uint16_t)c.args[0];
            planner_.configure(speed_, accel_);
        } else if (na != 0) {
            return reply_err(s, proto::E_ARG, FS("SPEED takes none or one number"));
        }
        begin_ok(s);
        out_.fstr(FS(" speed=")).num(speed_);
        return send_reply(s, true);
    }
    if (is(c, FS("ACCEL"))) {
        if (na == 1) {
            if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
            if (c.args[0] < (int32_t)motion::ACCEL_MIN || c.args[0] > (int32_t)motion::ACCEL_MAX) {
                return reply_err(s, proto::E_ARG, FS("ACCEL must be 50..100000 steps/s^2"));
            }
            accel_ = (uint32_t)c.args[0];
            planner_.configure(speed_, accel_);
        } else if (na != 0) {
            return reply_err(s, proto::E_ARG, FS("ACCEL takes none or one number"));
        }
        begin_ok(s);
        out_.fstr(FS(" accel=")).num((int32_t)accel_);
        return send_reply(s, true);
    }
    if (is(c, FS("EN"))) {
        if (na == 1) {
            if (c.args[0] != 0 && c.args[0] != 1) return reply_err(s, proto::E_ARG, FS("EN takes 0 or 1"));
            if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
            enabled_ = c.args[0] == 1;
            hal::set_enable(enabled_);
        } else if (na != 0) {
            return reply_err(s, proto::E_ARG, FS("EN takes none or one number"));
        }
        begin_ok(s);
        out_.fstr(FS(" en=")).num(enabled_ ? 1 : 0);
        return send_reply(s, true);
    }
    if (is(c, FS("HOME"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("HOME takes no argument"));
        if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
        if (!enabled_) return reply_err(s, proto::E_DISABLED, FS("driver disabled, send EN 1"));
        begin_ok(s);
        out_.fstr(FS(" state=homing"));
        send_reply(s, true);
        fault_ = 0;
        homed_ = false;
        {
            // seek no further than the soft-limit span and a quarter more (+200 steps)
            int64_t span = (int64_t)hi_ - (int64_t)lo_;
            int64_t travel = span + span / 4 + 200;
            home_max_ = travel < (int64_t)HOME_MAX_STEPS ? (uint32_t)travel : HOME_MAX_STEPS;
        }
        uint16_t v = speed_ / 2 > motion::SPEED_MIN ? speed_ / 2 : motion::SPEED_MIN;
        uint32_t first;
        if (hal::switch_lo()) {
            home_phase_ = 2;
            dir_ = 1;
            hal::set_dir(true);
            first = planner_.start_constant(v / 4 > motion::SPEED_MIN ? v / 4 : motion::SPEED_MIN);
        } else {
            home_phase_ = 1;
            dir_ = -1;
            hal::set_dir(false);
            first = planner_.start_constant(v);
        }
        aim_ = 0;
        state_ = HOMING;
        hal::timer_start(first);
        return;
    }
    if (is(c, FS("ZERO"))) {
        if (na != 1) return reply_err(s, proto::E_ARG, FS("ZERO takes one number of steps"));
        if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
        hal::irq_off();
        pos_ = c.args[0];
        target_ = c.args[0];
        aim_ = 0;
        hal::irq_on();
        begin_ok(s);
        out_.fstr(FS(" pos=")).num(c.args[0]);
        return send_reply(s, true);
    }
    if (is(c, FS("MARK"))) {
        if (na == 1) {
            if (c.args[0] < 0 || c.args[0] > 65535) return reply_err(s, proto::E_ARG, FS("MARK takes 0..65535"));
            mark_ = (uint16_t)c.args[0];
        } else if (na != 0) {
            return reply_err(s, proto::E_ARG, FS("MARK takes none or one number"));
        }
        begin_ok(s);
        out_.fstr(FS(" mark=")).num(mark_);
        return send_reply(s, true);
    }
    if (is(c, FS("CLR"))) {
        if (na) return reply_err(s, proto::E_ARG, FS("CLR takes no argument"));
        if (busy()) return reply_err(s, proto::E_BUSY, FS("motor is moving"));
        state_ = IDLE;
        fault_ = 0;
        begin_ok(s);
        out_.fstr(FS(" state=idle"));
        return send_reply(s, true);
    }
    reply_err(s, proto::E_UNKNOWN, FS("unknown command"));
}

}  // namespace fw
