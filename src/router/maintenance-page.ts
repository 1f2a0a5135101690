// The page an app in maintenance answers with (503). Like Heroku, MAINTENANCE_PAGE_URL is shown in a frame by
// the visitor's browser: Berth never fetches it, so a member cannot make Berth reach an internal address.
// The page goes into Caddy's static_response, whose body Caddy expands placeholders in ({env.*}, request
// headers): every character that could open one is written as an HTML entity, which the browser reads back.
import type { MaintenancePage } from './types.ts';

export const MAINTENANCE_PAGE_VAR = 'MAINTENANCE_PAGE_URL';

export const defaultMaintenanceBody = (app: string): string =>
  `${app} is down for maintenance and will be back shortly.\n`;

/** The URL to frame, or an error message: http(s) only, no credentials in it. */
export function checkMaintenanceUrl(raw: string): URL | string {
  let url: URL;
  try { url = new URL(raw); } catch { return `${MAINTENANCE_PAGE_VAR} is not a URL: "${raw.slice(0, 200)}".`; }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${MAINTENANCE_PAGE_VAR} must be an http or https URL.`;
  if (url.username || url.password) return `${MAINTENANCE_PAGE_VAR} must not carry credentials.`;
  return url;
}

/** The app's page: a frame of pageUrl when it is a usable URL, else the plain default (app names hold no braces). */
export function maintenancePage(app: string, pageUrl: string | undefined): MaintenancePage {
  const url = pageUrl ? checkMaintenanceUrl(pageUrl) : null;
  if (!(url instanceof URL)) return { contentType: 'text/plain; charset=utf-8', body: defaultMaintenanceBody(app) };
  // No CSS block: its braces would be placeholders to Caddy; the frame is sized by attributes.
  return {
    contentType: 'text/html; charset=utf-8',
    body: '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Down for maintenance</title></head><body style="margin:0">'
      + `<iframe src="${escapeHtml(url.href)}" width="100%" height="100%" style="border:0;position:fixed;top:0;left:0"></iframe></body></html>\n`,
  };
}

function escapeHtml(text: string): string {
  return escapeBraces(text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'));
}

/** Caddy placeholders open with "{": an entity never does. */
function escapeBraces(text: string): string {
  return text.replace(/\{/g, '&#123;').replace(/\}/g, '&#125;');
}
