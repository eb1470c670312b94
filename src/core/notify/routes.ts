// Which channels of a policy a notification goes to, pure.
import type { Notification, Route } from '../../api/notification-policy.ts';
import { selectorMatches } from '../shared/selectors.ts';

/** Whether a route applies to this object at all (kind and labels), whatever the trigger. */
export function routeSelects(route: Route, n: Notification, labels: Record<string, string>): boolean {
  if (route.kinds && !route.kinds.includes(n.object.kind)) return false;
  return route.selector ? selectorMatches(route.selector, labels) : true;
}

/** The channels (names, in route order, each once) whose routes take this notification. */
export function channelsFor(n: Notification, labels: Record<string, string>, routes: readonly Route[]): string[] {
  const out = new Set<string>();
  for (const route of routes) {
    if (!routeSelects(route, n, labels)) continue;
    if (!route.triggers.some((t) => n.triggers.includes(t))) continue;
    for (const channel of route.channels) out.add(channel);
  }
  return [...out];
}

/** Whether any route of the policy looks at this object (then its problems are tracked until they are over). */
export function policySelects(n: Notification, labels: Record<string, string>, routes: readonly Route[]): boolean {
  return routes.some((r) => routeSelects(r, n, labels));
}
