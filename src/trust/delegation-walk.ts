/**
 * TUF 5.6.7: the pre-order depth-first search for a target through the delegation graph, as
 * a generator. It yields "I need role R, delegated by D" whenever that role is not yet
 * trusted through D; the driver fetches and verifies it into the TrustedSet, then resumes
 * the generator. So the walk stays pure and synchronous and the driver owns all I/O.
 *
 * Order and bounds follow python-tuf's `_preorder_depth_first_walk`: roles in served order,
 * a terminating match (or a succinct bin, which always terminates) drops every role still
 * waiting, a role name is visited once (cycles), and at most `maxDelegations` roles are
 * visited after the top-level targets.
 */
import { delegatedRolesFor, isSuccinctRoleName, prepareTargetPath, succinctRoleFor } from './models/delegations.js'
import type { TargetFile } from './models/file-info.js'
import type { Targets } from './models/targets.js'
import type { TrustedSet } from './trusted-set.js'

export interface RoleRequest {
  readonly role: string
  readonly delegator: string
}

/**
 * Searches for `path` starting at the top-level targets role.
 * Yields a RoleRequest for each role the driver must load (via `updateTargets` or
 * `updateDelegatedTargets`) before the walk can continue; returns the target or undefined.
 * @throws {Error} when resumed without the requested role having been loaded (driver bug)
 */
export function* walkDelegations(
  set: TrustedSet,
  path: string,
  maxDelegations = set.limits.maxDelegations,
  /** told of every role the walk reads, so a caller can bound the answer by their expiry */
  onVisit?: (targets: Targets) => void,
): Generator<RoleRequest, TargetFile | undefined, void> {
  const query = prepareTargetPath(path)
  let stack: RoleRequest[] = [{ role: 'targets', delegator: 'root' }]
  const visited = new Set<string>()
  // python-tuf counts the top-level role too and tests `<=`: top-level plus max delegated roles
  while (visited.size <= maxDelegations && stack.length > 0) {
    const request = stack.pop()
    if (!request || visited.has(request.role)) continue
    let targets = set.getTargets(request.role, request.delegator)
    if (!targets) {
      yield request
      targets = set.getTargets(request.role, request.delegator)
      if (!targets) throw new Error(`walk resumed but ${request.role} (delegated by ${request.delegator}) was not loaded`)
    }
    onVisit?.(targets)
    // TUF 5.6.7.1: a role that lists the target answers, even if it also delegates it
    const found = targets.targets.get(path)
    if (found) return found
    visited.add(request.role)
    const delegations = targets.delegations
    if (!delegations) continue
    const children: RoleRequest[] = []
    if (delegations.succinctRoles) {
      // TAP 15: exactly one bin holds the path, and bins are terminating
      children.push({ role: succinctRoleFor(delegations.succinctRoles, query), delegator: request.role })
      stack = []
    } else {
      for (const role of delegatedRolesFor(delegations.roles ?? [], query)) {
        children.push({ role: role.name, delegator: request.role })
        // TUF 5.6.7.2.1: a terminating delegation ends the search after this subtree
        if (role.terminating) {
          stack = []
          break
        }
      }
    }
    for (let i = children.length - 1; i >= 0; i--) {
      const child = children[i]
      if (child) stack.push(child)
    }
  }
  return undefined
}

/**
 * Finds who delegates to `role`, breadth-first from the top-level targets, for a TUF client
 * behind the proxy that asks for roles in its own walk order. Yields a RoleRequest for each role
 * that must be loaded to look further; only roles the snapshot lists are followed, and at most
 * `maxDelegations` roles are loaded on the way. Returns the delegator, or undefined.
 */
export function* walkToRole(set: TrustedSet, role: string, maxDelegations = set.limits.maxDelegations): Generator<RoleRequest, string | undefined, void> {
  const queue: RoleRequest[] = [{ role: 'targets', delegator: 'root' }]
  const visited = new Set<string>(['targets'])
  let loaded = 0
  for (let next = queue.shift(); next; next = queue.shift()) {
    if (!set.getTargets(next.role, next.delegator)) {
      yield next
      if (!set.getTargets(next.role, next.delegator)) throw new Error(`walk resumed but ${next.role} (delegated by ${next.delegator}) was not loaded`)
    }
    const delegations = set.getTargets(next.role, next.delegator)?.delegations
    if (!delegations) continue
    const delegatesIt = delegations.succinctRoles ? isSuccinctRoleName(delegations.succinctRoles, role) : (delegations.roles ?? []).some((child) => child.name === role)
    if (delegatesIt) return next.role
    for (const child of delegations.roles ?? []) {
      if (visited.has(child.name) || !set.snapshot?.meta.has(`${child.name}.json`)) continue
      if (++loaded > maxDelegations) return undefined
      visited.add(child.name)
      queue.push({ role: child.name, delegator: next.role })
    }
  }
  return undefined
}
