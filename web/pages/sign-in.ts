// Sign in with an API token (what `berth login` uses too); the server answers with an HttpOnly session cookie.
import { api, ApiError, type User } from '../api.ts';
import { h, notice } from '../dom.ts';

export function signInPage(done: (user: User, csrf: string) => void): HTMLElement {
  const token = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, placeholder: 'berth_…' });
  const msg = notice();
  const form = h('form', {
    class: 'card sign-in',
    onsubmit: async (event: Event) => {
      event.preventDefault();
      msg.clear();
      try {
        const session = await api<{ user: User; csrfToken: string }>('POST', '/session', { token: token.value.trim() });
        done(session.user, session.csrfToken);
      } catch (err) {
        msg.error(err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : (err as Error).message);
        token.focus();
      }
    },
  },
  h('h1', {}, 'Sign in to Berth'),
  h('label', { for: 'token' }, 'API token'),
  token,
  h('p', { class: 'hint' }, 'Printed by scripts/up.sh for the admin; an admin creates tokens for others with berth users:create.'),
  h('button', { type: 'submit' }, 'Sign in'),
  msg.el);
  queueMicrotask(() => token.focus());
  return h('main', { id: 'main' }, form);
}
