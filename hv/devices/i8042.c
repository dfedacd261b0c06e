/* The i8042 keyboard controller (data port 0x60, status/command port 0x64): enough of it for
 * Linux's i8042 driver to find a controller and a translated AT keyboard at once, and for a
 * guest to reset the machine (command 0xfe, or 0xd1 with the reset bit clear), which ends the
 * VM as stopped(reboot).
 *
 * There is no AUX (mouse) port: AUX commands are accepted and go nowhere, the AUX interface
 * test reports a dead clock line. Boot Linux with i8042.noaux; without it the driver waits
 * about half a second for a loop-back reply before deciding there is no AUX port.
 *
 * Bytes for the guest queue in a small output buffer; status OBF says one is waiting. Bytes
 * from the keyboard raise IRQ 1 when the command byte enables it; controller replies do not,
 * since every driver polls for them (raising it would only add unhandled interrupts). The
 * controller works instantly, so the input buffer is never full (IBF stays clear). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define I8042_DATA    0x60
#define I8042_KBD_IRQ 1
#define I8042_QUEUE   8

#define STR_OBF      0x01
#define STR_SYS      0x04 /* mirrors the command byte's system flag */
#define STR_CMD      0x08 /* the last byte written went to the command port */
#define STR_UNLOCKED 0x10 /* keyboard not inhibited by a keylock */

#define CTR_KBDINT 0x01
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40
#define CTR_INIT   (CTR_XLATE | CTR_AUXDIS | CTR_SYS | CTR_KBDINT) /* as a BIOS leaves it */

#define CMD_READ_RAM    0x20 /* 0x20-0x3f: read internal RAM byte n; byte 0 is the CTR */
#define CMD_WRITE_RAM   0x60 /* 0x60-0x7f: write it with the next data byte */
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE  0xa8
#define CMD_AUX_TEST    0xa9
#define CMD_SELF_TEST   0xaa
#define CMD_KBD_TEST    0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE  0xae
#define CMD_READ_OUTP   0xd0
#define CMD_WRITE_OUTP  0xd1
#define CMD_WRITE_AUXOB 0xd3
#define CMD_WRITE_AUX   0xd4
#define CMD_RESET       0xfe /* pulse output port bit 0 (the CPU reset line) low; the other
                                * 0xf0-0xff pulse commands are ignored, as nobody sends them */

#define OUTP_RESET    0x01 /* active low */
#define OUTP_INIT     0x03 /* not in reset, A20 enabled */
#define AUX_TEST_DEAD 0x02 /* "clock line stuck high": nothing is attached */

#define KBD_ACK    0xfa
#define KBD_ECHO   0xee
#define KBD_GET_ID 0xf2
#define KBD_RESET  0xff
#define KBD_BAT_OK 0xaa

struct i8042 {
        pthread_mutex_t lock;
        struct hv_vm *vm;
        uint8_t ram[32];  /* ram[0] is the command byte (CTR) */
        uint8_t outport;
        uint8_t pending;  /* command waiting for its data byte, 0 if none */
        bool last_was_cmd;
        struct {
                uint8_t byte;
                bool from_kbd;
        } out[I8042_QUEUE];
        unsigned out_head, out_count;
        uint8_t last_read; /* what the data port reads with nothing new waiting */
        bool irq_level;    /* what KVM last accepted for IRQ 1 */
};

static void i8042_queue(struct i8042 *k, uint8_t byte, bool from_kbd) {
        if (k->out_count == I8042_QUEUE)
                return; /* a guest that never reads loses the newest bytes */
        unsigned at = (k->out_head + k->out_count++) % I8042_QUEUE;
        k->out[at].byte = byte;
        k->out[at].from_kbd = from_kbd;
}

static void i8042_set_irq(struct i8042 *k, bool level) {
        if (level != k->irq_level && hv_irq_line(k->vm->fd, I8042_KBD_IRQ, level) == 0)
                k->irq_level = level;
}

static void i8042_update_irq(struct i8042 *k) {
        i8042_set_irq(k, k->out_count && k->out[k->out_head].from_kbd && (k->ram[0] & CTR_KBDINT));
}

static uint8_t i8042_status(const struct i8042 *k) {
        return (k->out_count ? STR_OBF : 0) | (k->ram[0] & CTR_SYS ? STR_SYS : 0) |
               (k->last_was_cmd ? STR_CMD : 0) | STR_UNLOCKED;
}

static uint8_t i8042_read_data(struct i8042 *k) {
        if (k->out_count) {
                k->last_read = k->out[k->out_head].byte;
                k->out_head = (k->out_head + 1) % I8042_QUEUE;
                k->out_count--;
                /* drop the line so the next queued keyboard byte is a new edge */
                i8042_set_irq(k, false);
        }
        return k->last_read;
}

/* A keyboard that acknowledges every byte and answers the few commands drivers wait on. */
static void i8042_kbd_write(struct i8042 *k, uint8_t byte) {
        if (byte == KBD_ECHO) {
                i8042_queue(k, KBD_ECHO, true);
                return;
        }
        i8042_queue(k, KBD_ACK, true);
        if (byte == KBD_GET_ID) {
                i8042_queue(k, 0xab, true); /* an MF2 keyboard */
                i8042_queue(k, 0x83, true);
        } else if (byte == KBD_RESET)
                i8042_queue(k, KBD_BAT_OK, true);
}

/* Returns true when the byte resets the machine. */
static bool i8042_write_data(struct i8042 *k, uint8_t byte) {
        uint8_t cmd = k->pending;
        k->pending = 0;
        if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20)
                k->ram[cmd & 0x1f] = byte;
        else if (cmd == CMD_WRITE_OUTP)
                k->outport = byte;
        else if (cmd != CMD_WRITE_AUXOB && cmd != CMD_WRITE_AUX) /* AUX bytes go nowhere */
                i8042_kbd_write(k, byte);
        return cmd == CMD_WRITE_OUTP && !(byte & OUTP_RESET);
}

/* Returns true when the command resets the machine. */
static bool i8042_command(struct i8042 *k, uint8_t cmd) {
        k->pending = 0; /* a new command abandons one still waiting for its data */
        if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20)
                i8042_queue(k, k->ram[cmd & 0x1f], false);
        else if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) || cmd == CMD_WRITE_OUTP ||
                 cmd == CMD_WRITE_AUXOB || cmd == CMD_WRITE_AUX)
                k->pending = cmd;
        else {
                switch (cmd) {
                case CMD_AUX_DISABLE:
                        k->ram[0] |= CTR_AUXDIS;
                        break;
                case CMD_AUX_ENABLE:
                        k->ram[0] &= (uint8_t) ~CTR_AUXDIS;
                        break;
                case CMD_AUX_TEST:
                        i8042_queue(k, AUX_TEST_DEAD, false);
                        break;
                case CMD_SELF_TEST:
                        k->ram[0] |= CTR_SYS; /* a passed self test sets the system flag */
                        i8042_queue(k, 0x55, false);
                        break;
                case CMD_KBD_TEST:
                        i8042_queue(k, 0x00, false);
                        break;
                case CMD_KBD_DISABLE:
                        k->ram[0] |= CTR_KBDDIS;
                        break;
                case CMD_KBD_ENABLE:
                        k->ram[0] &= (uint8_t) ~CTR_KBDDIS;
                        break;
                case CMD_READ_OUTP:
                        i8042_queue(k, k->outport, false);
                        break;
                case CMD_RESET:
                        return true;
                default: /* unknown, or 0xff which Linux sends as a null command */
                        break;
                }
        }
        return false;
}

static void i8042_access(struct hv_vcpu *vcpu, struct i8042 *k, bool command_port, uint8_t *data, uint32_t len,
                         bool is_write) {
        bool reset = false;

        pthread_mutex_lock(&k->lock);
        if (is_write) {
                k->last_was_cmd = command_port;
                reset = command_port ? i8042_command(k, data[0]) : i8042_write_data(k, data[0]);
        } else
                hv_io_put(data, len, command_port ? i8042_status(k) : i8042_read_data(k));
        i8042_update_irq(k);
        pthread_mutex_unlock(&k->lock);
        if (reset)
                hv_vm_finish(k->vm, HV_VM_STOPPED, HV_REASON_REBOOT, 0, 0, vcpu);
}

static void i8042_data_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                          bool is_write) {
        (void) offset;
        i8042_access(vcpu, opaque, false, data, len, is_write);
}

static void i8042_command_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                             bool is_write) {
        (void) offset;
        i8042_access(vcpu, opaque, true, data, len, is_write);
}

static void i8042_free(void *opaque) {
        struct i8042 *k = opaque;
        pthread_mutex_destroy(&k->lock);
        free(k);
}

/* Two single ports: 0x61-0x63 between them are the system control port and friends, not
 * the keyboard controller's. */
int hv_i8042_attach(struct hv_vm *vm) {
        struct i8042 *k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        pthread_mutex_init(&k->lock, NULL);
        k->vm = vm;
        k->ram[0] = CTR_INIT;
        k->outport = OUTP_INIT;
        int r = hv_bus_register(&vm->pio, "i8042", HV_PORT_I8042, 1, i8042_command_io, k, i8042_free);
        if (r < 0) {
                i8042_free(k);
                return r;
        }
        /* the command port's range owns k; the data port only borrows it */
        return hv_bus_register(&vm->pio, "i8042", I8042_DATA, 1, i8042_data_io, k, NULL);
}
