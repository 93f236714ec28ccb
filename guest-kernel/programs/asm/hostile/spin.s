; spin.s: a native guest that spins forever without an instruction that exits or prints. Only
; --max-instructions or --timeout ends it.
spin:   jmp     spin
