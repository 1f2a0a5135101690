// The app page's tabs and their addresses: #/apps/NAME is the Overview, #/apps/NAME/TAB another tab,
// and a tab may carry its own settings after "?" (#/apps/NAME/metrics?since=6h). Pure, so node can test it.

export const APP_TABS = [
  { id: 'overview', label: 'Overview' },
  { id: 'resources', label: 'Resources' },
  { id: 'activity', label: 'Activity' },
  { id: 'logs', label: 'Logs' },
  { id: 'metrics', label: 'Metrics' },
  { id: 'settings', label: 'Settings' },
] as const;

export type AppTab = typeof APP_TABS[number]['id'];

export interface AppRoute { app: string; tab: AppTab; query: URLSearchParams }

const ROUTE = /^\/apps\/([^/?]+)(?:\/([a-z]+))?\/?(?:\?(.*))?$/;

/** "/apps/NAME[/TAB][?k=v]" (the decoded hash without its "#"), or null for any other address or an unknown tab. */
export function parseAppRoute(hash: string): AppRoute | null {
  const match = ROUTE.exec(hash);
  if (!match) return null;
  const tab = (match[2] ?? 'overview') as AppTab;
  if (!APP_TABS.some((t) => t.id === tab)) return null;
  return { app: match[1], tab, query: new URLSearchParams(match[3] ?? '') };
}

/** The link to a tab; the Overview is the app's own address. */
export function appTabHref(app: string, tab: AppTab, query?: URLSearchParams): string {
  const base = `#/apps/${encodeURIComponent(app)}${tab === 'overview' ? '' : `/${tab}`}`;
  const q = query?.toString();
  return q ? `${base}?${q}` : base;
}

export function tabLabel(tab: AppTab): string {
  return APP_TABS.find((t) => t.id === tab)!.label;
}
