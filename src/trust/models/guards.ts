/**
 * Type guards for decoding untrusted TUF JSON: each reader checks one field and throws a
 * MalformedMetadataError naming where it is (`snapshot.meta["targets.json"].version`).
 * Shared by the model decoders only.
 */
import { MalformedMetadataError } from '../errors.js'

export type JsonObject = Readonly<Record<string, unknown>>

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function expectObject(value: unknown, where: string): JsonObject {
  if (!isObject(value)) throw new MalformedMetadataError(`${where} must be an object`)
  return value
}

export function expectString(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new MalformedMetadataError(`${where} must be a string`)
  return value
}

export function expectBoolean(value: unknown, where: string): boolean {
  if (typeof value !== 'boolean') throw new MalformedMetadataError(`${where} must be a boolean`)
  return value
}

/** An integer >= `min` (JSON numbers that are not safe integers are refused). */
export function expectInteger(value: unknown, where: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new MalformedMetadataError(`${where} must be an integer`)
  if (value < min) throw new MalformedMetadataError(`${where} must be >= ${min}, got ${value}`)
  return value
}

export function expectStringArray(value: unknown, where: string): readonly string[] {
  if (!Array.isArray(value)) throw new MalformedMetadataError(`${where} must be an array`)
  for (const item of value) expectString(item, `${where}[]`)
  return value as readonly string[]
}

/** Keys of `object` not in `known`: python-tuf's `unrecognized_fields`, kept for callers. */
export function unknownFields(object: JsonObject, known: ReadonlySet<string>): JsonObject {
  const rest: Record<string, unknown> = {}
  for (const key of Object.keys(object)) if (!known.has(key)) rest[key] = object[key]
  return rest
}

/**
 * A hashes object (algorithm → hex digest), non-empty as python-tuf requires.
 */
export function expectHashes(value: unknown, where: string): Readonly<Record<string, string>> {
  const object = expectObject(value, where)
  const keys = Object.keys(object)
  if (keys.length === 0) throw new MalformedMetadataError(`${where} must not be empty`)
  for (const key of keys) expectString(object[key], `${where}.${key}`)
  return object as Readonly<Record<string, string>>
}
