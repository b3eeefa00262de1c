// How long a new password must be. Twelve characters: eight is within reach
// of offline guessing and of credential-stuffing lists. Stored passwords
// that are shorter keep working; the rule applies when a password is set.
// (Its own module, free of imports, so server/config/env.ts can use it.)
export const MIN_PASSWORD_LENGTH = 12;
