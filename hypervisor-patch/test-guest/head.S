/* SPDX-License-Identifier: MIT */
/*
 * Entry of the doorbell test guest, a 32-bit PVH kernel: Xen starts it at _start (named by the
 * XEN_ELFNOTE_PHYS32_ENTRY note) in flat 32-bit protected mode, paging off, EBX pointing to
 * hvm_start_info. The PVH ABI leaves GDTR and IDTR undefined, so the guest brings its own GDT
 * before anything can fault or interrupt. Also the interrupt and exception entry stubs.
 */

#define CODE_SEL 0x08
#define DATA_SEL 0x10
#define XEN_ELFNOTE_PHYS32_ENTRY 18

	/* The note Xen's domain builder looks for: name "Xen", descriptor = the entry address. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 4
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.long _start

	.text
	.code32
	.globl _start
_start:
	cli
	cld
	lgdt gdt_desc
	ljmp $CODE_SEL, $1f
1:	mov $DATA_SEL, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov $stack_top, %esp
	push %ebx
	call guest_main
	/* guest_main does not return; if it did, idle with interrupts on (see sti_hlt). */
2:	sti
	hlt
	jmp 2b

/*
 * Exceptions: the CPU pushes an error code for some vectors only; the others push a zero so that
 * exception_report() sees one frame layout.
 */
.macro exc vec, has_error
	.balign 8
exc_\vec:
	.if \has_error == 0
	push $0
	.endif
	push $\vec
	jmp exc_common
.endm

	.irp vec, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
	exc \vec, 0
	.endr
	.irp vec, 8,10,11,12,13,14,17,21,29,30
	exc \vec, 1
	.endr

exc_common:
	pusha
	push %esp
	call exception_report
3:	sti
	hlt
	jmp 3b

/* Interrupts: save what the C handler may clobber, run it, return to the interrupted code. */
.macro irq name, handler
	.globl \name
	.balign 8
\name:
	pusha
	cld
	call \handler
	popa
	iret
.endm

	irq upcall_entry, upcall_interrupt
	irq timer_entry, timer_interrupt

	/* A spurious APIC interrupt needs no EOI. */
	.globl spurious_entry
	.balign 8
spurious_entry:
	iret

	/*
	 * The page Xen writes its hypercall stubs into (through the MSR CPUID names), with the code
	 * it is. int3 until then: a hypercall made too early faults visibly.
	 */
	.section .text.hypercall_page, "ax", @progbits
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill 4096, 1, 0xcc

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9b000000ffff /* CODE_SEL: base 0, limit 4 GiB, 32-bit, execute/read */
	.quad 0x00cf93000000ffff /* DATA_SEL: base 0, limit 4 GiB, read/write */
gdt_desc:
	.word gdt_desc - gdt - 1
	.long gdt

	.globl exception_stubs
	.balign 4
exception_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.long exc_\vec
	.endr

	.bss
	.balign 16
	.space 16384
stack_top:

	.section .note.GNU-stack, "", @progbits
