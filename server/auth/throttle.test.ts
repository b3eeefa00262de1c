import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkThrottle, clearFailures, lockedMessage, recordFailure, THROTTLE, type ThrottleState } from "@/server/auth/throttle";
import { createTestDb, type TestDb } from "@/test/helpers/db";

let t: TestDb;
beforeEach(() => {
  t = createTestDb();
});
afterEach(() => t.close());

const EMAIL = "alice@example.com";
const IP = "203.0.113.7";
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** Records `n` failed sign-ins a second apart and returns the state after the last one and the time it happened. */
function fail(n: number, opts: { email?: string; ip?: string | null; from?: number } = {}): { state: ThrottleState; at: number } {
  const from = opts.from ?? T0;
  let state: ThrottleState = { lockedUntil: null, delayMs: 0 };
  let at = from;
  for (let i = 0; i < n; i++) {
    at = from + i * 1000;
    state = recordFailure(t.db, opts.email ?? EMAIL, opts.ip === undefined ? IP : opts.ip, at);
  }
  return { state, at };
}

describe("sign-in throttling", () => {
  it("a first failure neither slows nor locks the next attempt", () => {
    const { state } = fail(1);

    expect(state).toEqual({ lockedUntil: null, delayMs: 0 });
  });

  it(`answers are not slowed before ${THROTTLE.slowAfter} failures`, () => {
    const { state } = fail(THROTTLE.slowAfter - 1);

    expect(state.delayMs).toBe(0);
  });

  it(`answers are slowed from ${THROTTLE.slowAfter} failures on, and each further failure doubles the delay`, () => {
    const delays: number[] = [];
    for (let n = THROTTLE.slowAfter; n < THROTTLE.slowAfter + 3; n++) {
      delays.push(fail(n, { email: `after-${n}@example.com`, ip: null }).state.delayMs);
    }

    expect(delays[0]).toBeGreaterThan(0);
    expect(delays).toEqual([delays[0]!, delays[0]! * 2, delays[0]! * 4]);
  });

  it("the delay never exceeds the maximum", () => {
    const { state } = fail(THROTTLE.lockAfter - 1);

    expect(state.delayMs).toBe(THROTTLE.maxDelayMs);
  });

  it("one failure short of the limit does not lock", () => {
    const { state } = fail(THROTTLE.lockAfter - 1);

    expect(state.lockedUntil).toBeNull();
  });

  it(`the email is locked for ${THROTTLE.lockMs / 60_000} minutes after ${THROTTLE.lockAfter} failures`, () => {
    const { state, at } = fail(THROTTLE.lockAfter);

    expect(state.lockedUntil?.getTime()).toBe(at + THROTTLE.lockMs);
    expect(checkThrottle(t.db, EMAIL, IP, at + 1000).lockedUntil).not.toBeNull();
  });

  it("the lock message names the minutes left", () => {
    const { state, at } = fail(THROTTLE.lockAfter);

    const message = lockedMessage(state.lockedUntil!, at);

    expect(message).toBe("Too many failed sign-ins. Sign-in is locked for 15 more minutes; try again later or ask an admin to reset your password.");
  });

  it("the lock message rounds up and says minute for the last one", () => {
    expect(lockedMessage(new Date(T0 + 61_000), T0)).toMatch(/locked for 2 more minutes/);
    expect(lockedMessage(new Date(T0 + 5_000), T0)).toMatch(/locked for 1 more minute;/);
  });

  it("the lock holds for the email from any address and in any letter case", () => {
    const { at } = fail(THROTTLE.lockAfter);

    expect(checkThrottle(t.db, "ALICE@example.com", "198.51.100.1", at + 1000).lockedUntil).not.toBeNull();
  });

  it("the lock does not spill onto another email from the same address", () => {
    const { at } = fail(THROTTLE.lockAfter);

    expect(checkThrottle(t.db, "bob@example.com", IP, at + 1000)).toEqual({ lockedUntil: null, delayMs: 0 });
  });

  it("the lock expires after its time", () => {
    const { state } = fail(THROTTLE.lockAfter);

    const after = checkThrottle(t.db, EMAIL, IP, state.lockedUntil!.getTime());

    expect(after.lockedUntil).toBeNull();
  });

  it("the first attempt after a lock expired is not slowed either", () => {
    const { state } = fail(THROTTLE.lockAfter);

    const after = checkThrottle(t.db, EMAIL, IP, state.lockedUntil!.getTime() + 1000);

    expect(after.delayMs).toBe(0);
  });

  it("a failure after the lock expired starts counting from one again", () => {
    const { state } = fail(THROTTLE.lockAfter);

    const again = recordFailure(t.db, EMAIL, IP, state.lockedUntil!.getTime() + 1000);

    expect(again).toEqual({ lockedUntil: null, delayMs: 0 });
  });

  it("failures older than the window are forgotten", () => {
    const { at } = fail(THROTTLE.lockAfter - 1);

    const later = recordFailure(t.db, EMAIL, IP, at + THROTTLE.windowMs + 1);

    expect(later).toEqual({ lockedUntil: null, delayMs: 0 });
  });

  it("a successful sign-in clears the email's failures", () => {
    const { at } = fail(THROTTLE.lockAfter - 1);

    clearFailures(t.db, "Alice@Example.com");

    expect(checkThrottle(t.db, EMAIL, IP, at + 1000)).toEqual({ lockedUntil: null, delayMs: 0 });
  });

  it(`an address that fails ${THROTTLE.ipLockAfter} times across many emails is locked for every email`, () => {
    let at = T0;
    for (let i = 0; i < THROTTLE.ipLockAfter; i++) {
      at = T0 + i * 1000;
      recordFailure(t.db, `user${i}@example.com`, IP, at);
    }

    expect(checkThrottle(t.db, "fresh@example.com", IP, at + 1000).lockedUntil).not.toBeNull();
    expect(checkThrottle(t.db, "fresh@example.com", "198.51.100.1", at + 1000).lockedUntil).toBeNull();
  });

  it("a failure without a known address still counts against the email", () => {
    const { state } = fail(THROTTLE.lockAfter, { ip: null });

    expect(state.lockedUntil).not.toBeNull();
  });
});
