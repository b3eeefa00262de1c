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

/** The tRPC error a domain or validation error stands for; anything else unchanged. */
function asTrpcError(err: unknown): unknown {
  if (err instanceof DomainError) return new TRPCError({ code: DOMAIN_TO_TRPC[err.code], message: err.message, cause: err });
  if (err instanceof ZodError) return new TRPCError({ code: "BAD_REQUEST", message: `Invalid input: ${zodMessage(err)}`, cause: err });
  return err;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

/** Turns domain errors thrown by handlers into the matching tRPC error. */
const mapDomainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = asTrpcError(result.error.cause);
    if (mapped !== result.error.cause) throw mapped;
  }
  // A subscription's errors are thrown while it is read, after this middleware
  // returned: without this a refusal (an unknown run, a limit) reached the
  // client as INTERNAL_SERVER_ERROR (500) instead of its own code.
  if (result.ok && isAsyncIterable(result.data)) {
    const source = result.data;
    return {
      ...result,
      data: (async function* () {
        try {
          return yield* source;
        } catch (err) {
          throw asTrpcError(err);
        }
      })(),
    };
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

export const publicProcedure = t.procedure.meta({ access: "public" }).use(mapDomainErrors);

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

export const authedProcedure = t.procedure.meta({ access: "authenticated" }).use(requireAccess(null)).use(mapDomainErrors);

export function roleProcedure(minimum: Role) {
  return t.procedure.meta({ access: minimum }).use(requireAccess(minimum)).use(mapDomainErrors);
}
