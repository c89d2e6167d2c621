// focuscam motor firmware for the ATmega328P (Arduino Uno / Nano, 16 MHz).
//
// This file is the whole AVR target: plain avr-libc (no Arduino core), with main(), the
// USART0 and Timer1 interrupts, and the pin map. The protocol, motion planning and state
// live in the portable core (src/core -> ../core), which the host build uses as well.
// `make avr` (firmware_bridge/firmware/Makefile) compiles exactly this file into the ELF that
// the simavr tests run and the HEX that avrdude flashes. The Arduino IDE can open this sketch
// too (it compiles src/ and links this main() instead of the Arduino core's).
//
// Pin map (the Z axis of a common "CNC shield v3", or wire a bare driver the same way):
//   D4  (PD4)  STEP   -> driver STEP
//   D7  (PD7)  DIR    -> driver DIR
//   D8  (PB0)  ENABLE -> driver EN (active low: low = driver on)
//   D9  (PB1)  LIMIT LOW  switch to GND (internal pull-up; pressed = low)
//   D10 (PB2)  LIMIT HIGH switch to GND (internal pull-up; pressed = low)
//   D0/D1      USART0 (USB serial), 115200 8N1
#ifndef F_CPU
#define F_CPU 16000000UL
#endif
#include <avr/interrupt.h>
#include <avr/io.h>
#include <util/delay.h>

#include "src/core/controller.h"
#include "src/core/hal.h"

namespace {

fw::Controller ctrl;

// Receive ring buffer (filled by the USART interrupt, drained by the main loop).
constexpr uint8_t RX_SIZE = 128;  // power of two
volatile uint8_t rx_buf[RX_SIZE];
volatile uint8_t rx_head = 0, rx_tail = 0;

constexpr uint8_t STEP_BIT = _BV(PD4), DIR_BIT = _BV(PD7);
constexpr uint8_t EN_BIT = _BV(PB0), LO_BIT = _BV(PB1), HI_BIT = _BV(PB2);

}  // namespace

namespace hal {
void set_dir(bool positive) {
    if (positive) {
        PORTD |= DIR_BIT;
    } else {
        PORTD &= (uint8_t)~DIR_BIT;
    }
}
void step_pulse() {
    PORTD |= STEP_BIT;
    _delay_us(2);  // A4988 >= 1 us, DRV8825 >= 1.9 us, TMC2209 >= 0.1 us
    PORTD &= (uint8_t)~STEP_BIT;
}
void set_enable(bool on) {
    if (on) {
        PORTB &= (uint8_t)~EN_BIT;
    } else {
        PORTB |= EN_BIT;
    }
}
bool switch_lo() { return (PINB & LO_BIT) == 0; }
bool switch_hi() { return (PINB & HI_BIT) == 0; }
void serial_write(const char* data, uint8_t n) {
    for (uint8_t i = 0; i < n; ++i) {
        while (!(UCSR0A & _BV(UDRE0))) {
        }
        UDR0 = (uint8_t)data[i];
    }
}
void timer_start(uint32_t ticks) {
    if (ticks > 0xFFFFu) ticks = 0xFFFFu;
    if (ticks < 2) ticks = 2;
    uint8_t sreg = SREG;
    cli();
    TCCR1B = 0;                  // stop the timer while it is set up
    TCNT1 = 0;
    OCR1A = (uint16_t)ticks;     // non-zero before the timer starts (simavr needs it too)
    TIFR1 = _BV(OCF1A);
    TIMSK1 |= _BV(OCIE1A);
    TCCR1B = _BV(WGM12) | _BV(CS11) | _BV(CS10);  // CTC on OCR1A, 16 MHz / 64 = 250 kHz
    SREG = sreg;
}
void timer_stop() {
    uint8_t sreg = SREG;
    cli();
    TCCR1B = 0;
    TIMSK1 &= (uint8_t)~_BV(OCIE1A);
    SREG = sreg;
}
static uint8_t saved_sreg;
static uint8_t irq_depth = 0;
void irq_off() {
    uint8_t s = SREG;
    cli();
    if (irq_depth++ == 0) saved_sreg = s;
}
void irq_on() {
    if (irq_depth && --irq_depth == 0) SREG = saved_sreg;
}
}  // namespace hal

ISR(TIMER1_COMPA_vect) {
    uint32_t next = ctrl.on_step();
    if (next == 0) {
        TCCR1B = 0;
        TIMSK1 &= (uint8_t)~_BV(OCIE1A);
    } else {
        OCR1A = (uint16_t)(next > 0xFFFFu ? 0xFFFFu : (next < 2 ? 2 : next));
    }
}

ISR(USART_RX_vect) {
    uint8_t b = UDR0;
    if (b == proto::RT_STOP) {  // realtime stop: act at once, even mid-line
        ctrl.realtime_stop();
        return;
    }
    uint8_t next = (uint8_t)((rx_head + 1) & (RX_SIZE - 1));
    if (next != rx_tail) {  // on overflow the byte is lost; the line's checksum catches it
        rx_buf[rx_head] = b;
        rx_head = next;
    }
}

int main() {
    // pins
    DDRD |= STEP_BIT | DIR_BIT;
    DDRB |= EN_BIT;
    DDRB &= (uint8_t)~(LO_BIT | HI_BIT);
    PORTB |= LO_BIT | HI_BIT;  // pull-ups on the switch inputs
    // USART0: 115200 baud with U2X (UBRR = 16 -> 117647 baud, +2.1%), 8N1, RX interrupt
    UCSR0A = _BV(U2X0);
    UBRR0H = 0;
    UBRR0L = 16;
    UCSR0C = _BV(UCSZ01) | _BV(UCSZ00);
    UCSR0B = _BV(RXEN0) | _BV(TXEN0) | _BV(RXCIE0);
    sei();
    ctrl.boot();
    for (;;) {
        while (rx_tail != rx_head) {
            uint8_t b = rx_buf[rx_tail];
            rx_tail = (uint8_t)((rx_tail + 1) & (RX_SIZE - 1));
            ctrl.rx_byte(b);
        }
        ctrl.poll();
    }
}
