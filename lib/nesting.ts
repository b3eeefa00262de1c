// How deeply a value nests, measured without recursion. JSON.stringify, zod and
// superjson all recurse, so a value nested some thousands of levels deep (a few
// kilobytes of "[[[[…") overflows their stack; callers refuse it first, by name.
// No imports: used by the tRPC procedures (server/api/trpc.ts) and the tool gateway.

/** Far more than any real input needs (tool arguments and API inputs are a few levels deep). */
export const MAX_INPUT_DEPTH = 64;

/** Whether `value` has arrays or objects nested deeper than `max` levels. Iterative: safe for any depth. */
export function nestedDeeperThan(value: unknown, max: number = MAX_INPUT_DEPTH): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.value === null || typeof top.value !== "object") continue;
    const depth = top.depth + 1;
    if (depth > max) return true;
    const children: unknown[] = Array.isArray(top.value)
      ? top.value
      : top.value instanceof Map
        ? [...top.value.keys(), ...top.value.values()]
        : top.value instanceof Set
          ? [...top.value]
          : Object.values(top.value);
    for (const child of children) if (child !== null && typeof child === "object") stack.push({ value: child, depth });
  }
  return false;
}
