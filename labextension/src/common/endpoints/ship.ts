/**
 * Ship: the plan for a notebook, a Ship started, its progress — typed calls through the openapi-fetch client.
 */
import type { components } from '../api-types';
import { api, data } from '../client';

export type ShipPlan = components['schemas']['ShipPlan'];
export type ShipPlanOut = components['schemas']['PlanOut'];
export type ShipOut = components['schemas']['ShipOut'];
export type ShipStep = components['schemas']['StepOut'];
export type ShipEndpoint = components['schemas']['EndpointOut'];

/** The whole plan for a notebook, every default inferred from it and the project. */
export function planShip(slug: string, path: string, notebook: Record<string, unknown>): Promise<ShipPlanOut> {
  return data(api().POST('/api/projects/{slug}/ship/plan', { params: { path: { slug } }, body: { path, notebook } }));
}

/** Start shipping: answers at once; the chain runs in the backend. */
export function startShip(
  slug: string,
  path: string,
  notebook: Record<string, unknown>,
  plan: ShipPlan
): Promise<ShipOut> {
  return data(api().POST('/api/projects/{slug}/ship', { params: { path: { slug } }, body: { path, notebook, plan } }));
}

/**
 * A Ship's steps as they stand. The new API key is in the shipper's first read of the finished Ship, and again in
 * reads with that read's `claim` (a view's own random id: a read whose answer was lost gets it again).
 */
export function getShip(slug: string, shipId: string, claim?: string): Promise<ShipOut> {
  return data(
    api().GET('/api/projects/{slug}/ship/{ship_id}', {
      params: { path: { slug, ship_id: shipId }, query: claim ? { claim } : {} }
    })
  );
}
