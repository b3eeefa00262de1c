// mvdan-sh (a GopherJS build) sets Error.stackTraceLimit = Infinity for the
// whole process when it loads, because its panic/recover emulation measures
// stack depth. This module is imported just before it so shell.ts can put the
// process-wide value back and raise it only while the parser runs.
export const STACK_TRACE_LIMIT_BEFORE_MVDAN = Error.stackTraceLimit;
