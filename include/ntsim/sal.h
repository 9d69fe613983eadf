/*
 * sal.h - the WDK's source annotations, accepted and ignored.
 *
 * Driver code carries two generations of annotations: the SAL 2 set of
 * the WDK 8 and later (_In_, _IRQL_requires_max_ ...) and the older
 * SAL 1 / driverspecs set of the WDK 7.1 and its samples (__in, __out,
 * __drv_dispatchType ...). Both expand to nothing here: they guide static
 * analysis (PREfast, SDV), never code generation, so a driver compiles the
 * same with or without them. Annotations that take arguments take them
 * here too, so a misspelt one still fails to compile.
 */
#ifndef NTSIM_SAL_H
#define NTSIM_SAL_H

/* ---- SAL 2 (WDK 8 and later) ------------------------------------- */
#define IN
#define OUT
#define OPTIONAL
#define _In_
#define _In_opt_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _In_z_
#define _In_reads_(x)
#define _In_reads_bytes_(x)
#define _In_reads_bytes_opt_(x)
#define _Out_writes_(x)
#define _Out_writes_bytes_(x)
#define _Out_writes_bytes_opt_(x)
#define _Outptr_
#define _Outptr_result_maybenull_
#define _Outptr_opt_
#define _Must_inspect_result_
#define _Check_return_
#define _Success_(x)
#define _When_(a, b)
#define _At_(a, b)
#define _Pre_notnull_
#define _Post_invalid_
#define _Ret_maybenull_
#define _Post_writable_byte_size_(x)
#define _Use_decl_annotations_
#define _Function_class_(x)
#define _Dispatch_type_(x)
#define _IRQL_requires_(x)
#define _IRQL_requires_max_(x)
#define _IRQL_requires_min_(x)
#define _IRQL_requires_same_
#define _IRQL_raises_(x)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_always_function_min_(x)
#define _IRQL_always_function_max_(x)
#define _Requires_lock_held_(x)
#define _Requires_lock_not_held_(x)
#define _Acquires_lock_(x)
#define _Releases_lock_(x)
#define _Analysis_assume_(x)
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_requires_resource_held_(x)
#define _Kernel_clear_do_init_(x)
#define _Reserved_
#define _Field_size_(x)
#define _Field_size_bytes_(x)
#define _Field_size_bytes_part_(x, y)
#define _Struct_size_bytes_(x)
#define _Null_terminated_
#define _Maybenull_
#define _Interlocked_operand_
/* More annotations found in WDK-documented driver code (sal.h, driverspecs.h): ignored too. */
#define _In_opt_z_
#define _Inout_z_
#define _Inout_updates_(x)
#define _Inout_updates_opt_(x)
#define _Inout_updates_bytes_(x)
#define _Inout_updates_bytes_opt_(x)
#define _In_reads_opt_(x)
#define _Out_writes_opt_(x)
#define _Out_writes_all_(x)
#define _Out_writes_bytes_all_(x)
#define _Out_writes_to_(x, y)
#define _Out_writes_bytes_to_(x, y)
#define _Out_writes_bytes_to_opt_(x, y)
#define _Outptr_result_buffer_(x)
#define _Outptr_result_bytebuffer_(x)
#define _Outptr_opt_result_maybenull_
#define _Outptr_result_nullonfailure_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Pre_satisfies_(x)
#define _Post_satisfies_(x)
#define _Pre_valid_
#define _Post_valid_
#define _Valid_
#define _Pre_maybenull_
#define _Post_maybenull_
#define _Post_ptr_invalid_
#define _Notnull_
#define _Ret_notnull_
#define _Ret_z_
#define _In_range_(lb, ub)
#define _Out_range_(lb, ub)
#define _Ret_range_(lb, ub)
#define _Deref_out_range_(lb, ub)
#define _Field_range_(lb, ub)
#define _Printf_format_string_
#define _Return_type_success_(x)
#define _Strict_type_match_
#define _Literal_
#define _Notliteral_
#define _Points_to_data_
#define _Interlocked_
#define _Guarded_by_(lock)
#define _Write_guarded_by_(lock)
#define _Has_lock_kind_(kind)
#define _Requires_exclusive_lock_held_(x)
#define _Requires_shared_lock_held_(x)
#define _Acquires_exclusive_lock_(x)
#define _Acquires_shared_lock_(x)
#define _Releases_exclusive_lock_(x)
#define _Releases_shared_lock_(x)
#define _Post_same_lock_(a, b)
#define _Analysis_assume_lock_held_(x)
#define _Analysis_assume_lock_not_held_(x)
#define _Analysis_assume_lock_acquired_(x)
#define _Analysis_assume_lock_released_(x)
#define _No_competing_thread_
#define _Benign_race_begin_
#define _Benign_race_end_
#define _IRQL_saves_global_(kind, param)
#define _IRQL_restores_global_(kind, param)
#define _IRQL_uses_cancel_
#define _IRQL_is_cancel_
#define _Kernel_requires_resource_not_held_(x)
#define _Kernel_acquires_resource_(x)
#define _Kernel_releases_resource_(x)
#define _Kernel_float_used_
#define __drv_useCancelIRQL
#define __drv_savesIRQLGlobal(kind, param)
#define __drv_restoresIRQLGlobal(kind, param)
#define __drv_setsIRQL(x)
#define __drv_raisesIRQL(x)
#define __drv_minIRQL(x)
#define __drv_sameIRQL
#define __drv_functionClass(x)
#define __drv_completionType(x)
#define __drv_isObjectPointer
#define __drv_strictTypeMatch(x)
#define __drv_at(a, b)
#define __drv_arg(a, b)
#define __drv_inTry
#define __drv_clearDoInit(x)
#define __drv_acquiresResource(x)
#define __drv_releasesResource(x)
#define __drv_mustHold(x)
#define __drv_neverHold(x)
#define __drv_acquiresCancelSpinLock
#define __drv_releasesCancelSpinLock
#define __drv_mustHoldCancelSpinLock
#define __drv_neverHoldCancelSpinLock


/* ---- SAL 1 and driverspecs.h (WDK 7.1) ---------------------------- */
#define __in
#define __in_opt
#define __in_z
#define __in_z_opt
#define __in_ecount(size)
#define __in_bcount(size)
#define __in_ecount_opt(size)
#define __in_bcount_opt(size)
#define __in_xcount(size)
#define __out
#define __out_opt
#define __out_z
#define __out_ecount(size)
#define __out_bcount(size)
#define __out_ecount_opt(size)
#define __out_bcount_opt(size)
#define __out_ecount_part(size, length)
#define __out_bcount_part(size, length)
#define __out_bcount_part_opt(size, length)
#define __out_ecount_full(size)
#define __out_bcount_full(size)
#define __inout
#define __inout_opt
#define __inout_z
#define __inout_ecount(size)
#define __inout_bcount(size)
#define __inout_bcount_opt(size)
#define __deref_in
#define __deref_out
#define __deref_out_opt
#define __deref_inout
#define __deref_out_ecount(size)
#define __deref_out_bcount(size)
#define __deref_opt_out
#define __checkReturn
#define __success(expr)
#define __nullterminated
#define __reserved
#define __callback
#define __field_ecount(size)
#define __field_bcount(size)
#define __field_ecount_opt(size)
#define __field_bcount_opt(size)
#define __range(lb, ub)
#define __format_string
#define __analysis_assume(expr)
#define __drv_dispatchType(kind)
#define __drv_dispatchType_other
#define __drv_in(annotes)
#define __drv_out(annotes)
#define __drv_in_deref(annotes)
#define __drv_out_deref(annotes)
#define __drv_when(cond, annotes)
#define __drv_maxIRQL(irql)
#define __drv_requiresIRQL(irql)
#define __drv_allocatesMem(kind)
#define __drv_freesMem(kind)
#define __drv_aliasesMem
#define __drv_valueIs(values)
#define __drv_preferredFunction(func, why)
#define __drv_reportError(why)
#define __drv_maxFunctionIRQL(irql)
#define __drv_minFunctionIRQL(irql)
#define __drv_requiresIRQLGreater(irql)
#define __drv_notPointer
#define __drv_nonConstant
#define __drv_constant
#define __drv_formatString(kind)
#define __drv_floatUsed
#define __drv_interlocked
#define __drv_innerMustHold(kind)
#define __drv_innerNeverHold(kind)
#define __drv_acquiresExclusiveResource(kind)
#define __drv_releasesExclusiveResource(kind)

#endif /* NTSIM_SAL_H */
