/* COM1: a 16550A UART at 0x3f8 on ISA IRQ 4, modelled as closely as Linux's 8250 driver
 * looks at it (autoconfig, the THRE test in startup, interrupt-driven transmit).
 *
 * Transmission is instant: a byte written to THR goes straight to the VM's console ring (the
 * same ring as port 0xe9), so THR and the transmitter are always empty (LSR THRE|TEMT). In
 * loopback mode the byte lands in the receive FIFO instead, which is how drivers probe the
 * FIFO depth. There is no host input yet; the receive side only ever sees loopback bytes.
 *
 * Concurrency: one mutex per UART. Guests serialize their own accesses to a port (Linux holds
 * the port spinlock), so the mutex is uncontended; it only keeps the state and the interrupt
 * line consistent if a guest misbehaves. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "boot/layout.h"
#include "devices/devices.h"
#include "vm.h"

#define SERIAL_PORTS 8
#define SERIAL_FIFO  16 /* a 16550A's receive FIFO; Linux counts it to tell a 16550A from a U6 */

/* register offsets; with LCR.DLAB set, 0 and 1 are the divisor latch */
enum { REG_RBR_THR, REG_IER, REG_IIR_FCR, REG_LCR, REG_MCR, REG_LSR, REG_MSR, REG_SCR };

#define IER_RDI  0x01 /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI  0x08 /* modem status */
#define IER_MASK 0x0f /* the upper nibble reads 0 on a 16550A (Linux checks) */

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_ID     0x0f
#define IIR_FIFO   0xc0 /* both bits: a 16550A with working FIFOs */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02

#define LCR_DLAB 0x80

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08 /* on a PC, gates the UART's interrupt onto the ISA line */
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DELTAS 0x0f /* DCTS, DDSR, TERI, DDCD: the status bits below, shifted down by 4 */
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

struct serial {
        pthread_mutex_t lock;
        struct hv_vm *vm;
        uint8_t dll, dlm, ier, lcr, mcr, scr;
        bool fifo;          /* FCR.ENABLE */
        bool thre_pending;  /* THRE interrupt raised and not yet acknowledged */
        uint8_t lsr_errors; /* OE, until LSR is read */
        uint8_t msr_delta;  /* delta bits, until MSR is read */
        uint8_t rx[SERIAL_FIFO];
        unsigned rx_head, rx_count;
        bool irq_level; /* what KVM last accepted for the IRQ line */
};

/* What the modem status inputs read: in loopback they are wired to the MCR outputs; outside,
 * a null-modem cable with the other end ready, so the console never waits on flow control. */
static uint8_t serial_msr_lines(const struct serial *s) {
        if (!(s->mcr & MCR_LOOP))
                return MSR_DCD | MSR_DSR | MSR_CTS;
        return (s->mcr & MCR_DTR ? MSR_DSR : 0) | (s->mcr & MCR_RTS ? MSR_CTS : 0) |
               (s->mcr & MCR_OUT1 ? MSR_RI : 0) | (s->mcr & MCR_OUT2 ? MSR_DCD : 0);
}

static void serial_rx_push(struct serial *s, uint8_t byte) {
        unsigned depth = s->fifo ? SERIAL_FIFO : 1;
        if (s->rx_count == depth) {
                s->lsr_errors |= LSR_OE; /* the byte is lost, as on the chip */
                return;
        }
        s->rx[(s->rx_head + s->rx_count++) % SERIAL_FIFO] = byte;
}

static uint8_t serial_rx_pop(struct serial *s) {
        if (s->rx_count == 0)
                return 0;
        uint8_t byte = s->rx[s->rx_head];
        s->rx_head = (s->rx_head + 1) % SERIAL_FIFO;
        s->rx_count--;
        return byte;
}

/* The highest-priority enabled interrupt, as IIR reports it. */
static uint8_t serial_iir(const struct serial *s) {
        uint8_t id = IIR_NO_INT;
        if ((s->ier & IER_RLSI) && s->lsr_errors)
                id = IIR_RLSI;
        else if ((s->ier & IER_RDI) && s->rx_count)
                id = IIR_RDI;
        else if ((s->ier & IER_THRI) && s->thre_pending)
                id = IIR_THRI;
        else if ((s->ier & IER_MSI) && s->msr_delta)
                id = IIR_MSI;
        return id | (s->fifo ? IIR_FIFO : 0);
}

/* KVM is told only about changes: a rising edge is what delivers an interrupt. If the ioctl
 * fails the old level is kept, so the next access tries again. */
static void serial_update_irq(struct serial *s) {
        bool level = !(serial_iir(s) & IIR_NO_INT) && (s->mcr & MCR_OUT2);
        if (level != s->irq_level && hv_irq_line(s->vm->fd, HV_LINUX_IRQ_SERIAL, level) == 0)
                s->irq_level = level;
}

static void serial_transmit(struct serial *s, uint8_t byte) {
        if (s->mcr & MCR_LOOP)
                serial_rx_push(s, byte);
        else
                hv_console_write(s->vm->console, &byte, 1);
        /* writing THR acknowledges THRE; the byte leaves at once, so THR is empty again */
        s->thre_pending = true;
}

static void serial_set_ier(struct serial *s, uint8_t v) {
        v &= IER_MASK;
        /* enabling THRI while THR is empty raises THRE: Linux's startup tests for exactly this */
        if ((v & IER_THRI) && !(s->ier & IER_THRI))
                s->thre_pending = true;
        s->ier = v;
}

static void serial_set_fcr(struct serial *s, uint8_t v) {
        bool fifo = v & FCR_ENABLE;
        if ((v & FCR_CLEAR_RX) || fifo != s->fifo) /* switching FIFO mode also empties it */
                s->rx_head = s->rx_count = 0;
        s->fifo = fifo;
}

static void serial_set_mcr(struct serial *s, uint8_t v) {
        uint8_t before = serial_msr_lines(s);
        s->mcr = v & MCR_MASK;
        uint8_t after = serial_msr_lines(s);
        /* CTS, DSR and DCD report any change, RI only its trailing edge */
        uint8_t changed = (uint8_t) (((before ^ after) & ~MSR_RI) | (before & ~after & MSR_RI));
        s->msr_delta |= changed >> 4;
}

static void serial_write(struct serial *s, unsigned reg, uint8_t v) {
        bool dlab = s->lcr & LCR_DLAB;
        switch (reg) {
        case REG_RBR_THR:
                if (dlab)
                        s->dll = v;
                else
                        serial_transmit(s, v);
                break;
        case REG_IER:
                if (dlab)
                        s->dlm = v;
                else
                        serial_set_ier(s, v);
                break;
        case REG_IIR_FCR:
                serial_set_fcr(s, v);
                break;
        case REG_LCR:
                s->lcr = v;
                break;
        case REG_MCR:
                serial_set_mcr(s, v);
                break;
        case REG_SCR:
                s->scr = v;
                break;
        default: /* LSR and MSR are read-only */
                break;
        }
}

static uint8_t serial_read_iir(struct serial *s) {
        uint8_t iir = serial_iir(s);
        if ((iir & IIR_ID) == IIR_THRI) /* reading IIR acknowledges THRE when it is the source */
                s->thre_pending = false;
        return iir;
}

static uint8_t serial_read_lsr(struct serial *s) {
        uint8_t lsr = (s->rx_count ? LSR_DR : 0) | s->lsr_errors | LSR_THRE | LSR_TEMT;
        s->lsr_errors = 0;
        return lsr;
}

static uint8_t serial_read_msr(struct serial *s) {
        uint8_t msr = serial_msr_lines(s) | s->msr_delta;
        s->msr_delta = 0;
        return msr;
}

static uint8_t serial_read(struct serial *s, unsigned reg) {
        bool dlab = s->lcr & LCR_DLAB;
        switch (reg) {
        case REG_RBR_THR:
                return dlab ? s->dll : serial_rx_pop(s);
        case REG_IER:
                return dlab ? s->dlm : s->ier;
        case REG_IIR_FCR:
                return serial_read_iir(s);
        case REG_LCR:
                return s->lcr;
        case REG_MCR:
                return s->mcr;
        case REG_LSR:
                return serial_read_lsr(s);
        case REG_MSR:
                return serial_read_msr(s);
        default:
                return s->scr;
        }
}

static void serial_io(struct hv_vcpu *vcpu, void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
                      bool is_write) {
        struct serial *s = opaque;
        (void) vcpu;
        pthread_mutex_lock(&s->lock);
        /* an 8-bit device: a wider access is a run of byte accesses, as the ISA bus splits it */
        for (uint32_t i = 0; i < len; i++) {
                uint64_t reg = offset + i;
                if (reg >= SERIAL_PORTS) {
                        if (!is_write)
                                data[i] = 0xff;
                } else if (is_write)
                        serial_write(s, (unsigned) reg, data[i]);
                else
                        data[i] = serial_read(s, (unsigned) reg);
        }
        serial_update_irq(s);
        pthread_mutex_unlock(&s->lock);
}

static void serial_free(void *opaque) {
        struct serial *s = opaque;
        pthread_mutex_destroy(&s->lock);
        free(s);
}

int hv_serial_attach(struct hv_vm *vm) {
        struct serial *s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        s->vm = vm;
        s->dll = 12;    /* 9600 baud */
        s->lcr = 0x03;  /* 8N1, as a PC BIOS leaves COM1 */
        int r = hv_bus_register(&vm->pio, "serial", HV_PORT_SERIAL, SERIAL_PORTS, serial_io, s, serial_free);
        if (r < 0)
                serial_free(s);
        return r;
}
