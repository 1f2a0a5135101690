// The schedulers Berth knows, as users name them (`apps:create --scheduler k3s`). Free of imports, so the
// wire types (and through them the web console) can use it.
export const SCHEDULER_NAMES = ['docker', 'k3s'] as const;
export type SchedulerName = typeof SCHEDULER_NAMES[number];
