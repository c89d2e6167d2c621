#include "motion.h"

#include <math.h>

#include "hal.h"

namespace motion {

void Planner::configure(uint16_t speed, uint32_t accel) {
    cmin_ = (hal::TICK_HZ * 256UL) / speed;
    // Austin's first interval: 0.676 * f * sqrt(2 / a) (the 0.676 corrects the first step)
    float c0 = 0.676f * (float)hal::TICK_HZ * sqrtf(2.0f / (float)accel);
    c0_ = (uint32_t)(c0 * 256.0f);
    if (c0_ < cmin_) c0_ = cmin_;
}

uint32_t Planner::start(uint32_t total) {
    total_ = total;
    taken_ = 0;
    n_ = 0;
    constant_ = false;
    c_ = c0_;
    return c_ >> 8;
}

uint32_t Planner::start_constant(uint16_t speed) {
    constant_ = true;
    total_ = 0xFFFFFFFFUL;
    taken_ = 0;
    c_ = (hal::TICK_HZ / speed) << 8;
    return c_ >> 8;
}

uint32_t Planner::next() {
    ++taken_;
    if (constant_) return c_ >> 8;
    uint32_t left = total_ - taken_;
    if ((int32_t)left <= n_) {
        // decelerate: c_{n-1} = c_n + 2 c_n / (4n - 1)
        if (n_ > 1) {
            c_ += (2 * c_) / (uint32_t)(4 * n_ - 1);
            --n_;
        } else {
            c_ = c0_;
            n_ = 0;
        }
        if (c_ > c0_) c_ = c0_;
    } else if (c_ > cmin_) {
        ++n_;
        c_ -= (2 * c_) / (uint32_t)(4 * n_ + 1);
        if (c_ < cmin_) c_ = cmin_;
    }
    return c_ >> 8;
}

}  // namespace motion
