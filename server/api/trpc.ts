// tRPC foundation: context, error formatting and the role ladder. Every
// procedure is built from `publicProcedure`, `authedProcedure` or
// `roleProcedure(min)`, which record the minimum role in the procedure's meta.
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import type { Db } from "@/db/client";
import type { Role, User } from "@/db/schema";
import type { Actor } from "@/server/audit/chain";
import type { Identity } from "@/server/auth/identity";
import { DomainError } from "@/server/errors/domain-error";
import { isStorageFull, storageFullError } from "@/server/errors/storage";
import { MAX_INPUT_DEPTH, nestedDeeperThan } from "@/lib/nesting";
import { hasRole } from "@/server/users/users";
import { requireSupervisor } from "@/server/supervisor/boot";
import type { Supervisor } from "@/server/supervisor/supervisor";
import { processEgressController } from "@/server/egress/boot";
import type { EgressController } from "@/server/egress/controller";

export type Access = "public" | "authenticated" | Role;

export interface Meta {
  access: Access;
}

export interface Context {
  db: Db;
  identity: Identity | null;
  sourceIp: string | null;
  /** The caller's User-Agent (a push device's default label); unset outside HTTP. */
  userAgent?: string | null;
  /**
   * The run supervisor and egress controller procedures act through, asked
   * for only when a procedure needs them (a process without a supervisor
   * answers PRECONDITION_FAILED then, not on every request). Unset: the
   * process's own (server/supervisor/boot.ts, server/egress/boot.ts).
   */
  supervisor?: () => Supervisor;
  egress?: () => EgressController;
}

const DOMAIN_TO_TRPC = {
  INVALID_INPUT: "BAD_REQUEST",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  FORBIDDEN: "FORBIDDEN",
  UNAUTHORIZED: "UNAUTHORIZED",
  TOO_MANY_ATTEMPTS: "TOO_MANY_REQUESTS",
  PRECONDITION_FAILED: "PRECONDITION_FAILED",
  STORAGE_FULL: "SERVICE_UNAVAILABLE",
} as const;

function zodMessage(err: ZodError): string {
  return err.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");
}

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      const zod = cause instanceof ZodError ? cause : null;
      return {
        ...shape,
        message: zod ? `Invalid input: ${zodMessage(zod)}` : shape.message,
        data: {
          ...shape.data,
          stack: undefined,
          domainCode: cause instanceof DomainError ? cause.code : zod ? "INVALID_INPUT" : undefined,
          zodIssues: zod ? zod.issues.map((i) => ({ path: i.path.map(String), message: i.message })) : undefined,
        },
      };
    },
  });

function toTrpcError(err: unknown): unknown {
  if (err instanceof DomainError) return new TRPCError({ code: DOMAIN_TO_TRPC[err.code], message: err.message, cause: err });
  if (err instanceof ZodError) return new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${zodMessage(err)}`, cause: err });
  return err;
}

/**
 * A subscription's stream, whose domain errors become tRPC errors too: they
 * are thrown after the handler returned (runs.events checks the run inside
 * its generator), where the check below cannot see them, and went out as
 * INTERNAL_SERVER_ERROR (F4: a stream of a run that does not exist; L1: a refused subscription, past the viewers' limit).
 */
async function* mapStreamErrors<T>(stream: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = stream[Symbol.asyncIterator]();
  try {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await iterator.next();
      } catch (err) {
        throw toTrpcError(err);
      }
      if (step.done) return;
      yield step.value;
    }
  } finally {
    await iterator.return?.();
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** Turns domain errors thrown by handlers into the matching tRPC error. */
const mapDomainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (result.ok && isAsyncIterable(result.data)) return { ...result, data: mapStreamErrors(result.data) };
  if (!result.ok && result.error.cause instanceof DomainError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: DOMAIN_TO_TRPC[cause.code], message: cause.message, cause });
  }
  // A full disk is the operator's to fix, not a bug: a plain 503 with the DomainError, never a 500 with a stack.
  if (!result.ok && !(result.error.cause instanceof DomainError) && isStorageFull(result.error.cause)) {
    const cause = storageFullError("the request was refused");
    throw new TRPCError({ code: DOMAIN_TO_TRPC[cause.code], message: cause.message, cause });
  }
  if (!result.ok && result.error.cause instanceof ZodError) {
    throw new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${zodMessage(result.error.cause)}`, cause: result.error.cause });
  }
  return result;
});

/**
 * Refuses input nested deeper than any procedure needs, before zod or a
 * domain function recurses into it: 10 000 levels overflowed the stack of
 * the policy worker's structured clone (F2) and of JSON.stringify.
 */
const refuseDeepInput = t.middleware(async ({ getRawInput, next }) => {
  if (nestedDeeperThan(await getRawInput())) {
    throw new TRPCError({
      code: "BAD_REQUEST",
      message: `Invalid input: nested more than ${MAX_INPUT_DEPTH} levels deep (the limit is ${MAX_INPUT_DEPTH}). Send the fields this procedure expects.`,
    });
  }
  return next();
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure.meta({ access: "public" }).use(mapDomainErrors).use(refuseDeepInput);

export interface AuthedContext extends Context {
  identity: Identity;
  user: User;
  actor: Actor;
  supervisor: () => Supervisor;
  egress: () => EgressController;
}

function actorOf(ctx: Context, identity: Identity): Actor {
  return { userId: identity.user.id, label: identity.user.email, sourceIp: ctx.sourceIp, tokenId: identity.tokenId };
}

function requireAccess(minimum: Role | null) {
  return t.middleware(({ ctx, next }) => {
    const identity = ctx.identity;
    if (!identity) {
      throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in or send an API token (Authorization: Bearer …) to use this." });
    }
    if (minimum && !hasRole(identity.user.role, minimum)) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: `This needs the ${minimum} role; you are ${identity.user.role}. Ask an admin to change your role.`,
      });
    }
    return next({
      ctx: {
        ...ctx,
        identity,
        user: identity.user,
        actor: actorOf(ctx, identity),
        supervisor: ctx.supervisor ?? requireSupervisor,
        egress: ctx.egress ?? processEgressController,
      },
    });
  });
}

export const authedProcedure = t.procedure.meta({ access: "authenticated" }).use(requireAccess(null)).use(mapDomainErrors).use(refuseDeepInput);

export function roleProcedure(minimum: Role) {
  return t.procedure.meta({ access: minimum }).use(requireAccess(minimum)).use(mapDomainErrors).use(refuseDeepInput);
}
