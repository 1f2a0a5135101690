// A modal that asks for a name to be typed before something that loses data (destroying an add-on, restoring a
// backup over it): the button stays disabled until the text matches, as the CLI's --confirm NAME.
import { h } from '../dom.ts';

export interface TypedConfirm {
  title: string;
  /** What will be lost, said plainly. */
  text: string;
  /** What must be typed. */
  expected: string;
  /** The button's label ("Destroy shop-db"). */
  action: string;
  /** A checkbox offered beside (unchecked): its label; onConfirm gets whether it was ticked. */
  choice?: string;
  onConfirm(chosen: boolean): void;
  /** Where focus goes back to when the dialog closes. */
  returnFocus?: HTMLElement | null;
}

export function typedConfirm(c: TypedConfirm): void {
  const input = h('input', { id: 'typed-confirm', autocomplete: 'off', spellcheck: 'false', class: 'grow' });
  const confirm = h('button', { type: 'button', class: 'danger-solid', disabled: true }, c.action);
  const cancel = h('button', { type: 'button', class: 'small' }, 'Cancel');
  const choice = h('input', { type: 'checkbox', id: 'typed-confirm-choice' });
  const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'typed-confirm-title', 'aria-describedby': 'typed-confirm-text' },
    h('h2', { id: 'typed-confirm-title' }, c.title),
    h('p', { id: 'typed-confirm-text' }, c.text),
    h('label', { for: 'typed-confirm' }, `Type ${c.expected} to confirm`),
    h('div', { class: 'row' }, input),
    c.choice ? h('div', { class: 'row' }, choice, h('label', { for: 'typed-confirm-choice' }, c.choice)) : null,
    h('div', { class: 'row' }, confirm, cancel));
  const close = () => { dialog.close(); dialog.remove(); c.returnFocus?.focus(); };
  input.addEventListener('input', () => { confirm.disabled = input.value.trim() !== c.expected; });
  input.addEventListener('keydown', (event) => { if (event.key === 'Enter' && !confirm.disabled) confirm.click(); });
  cancel.addEventListener('click', close);
  confirm.addEventListener('click', () => { close(); c.onConfirm(choice.checked); });
  dialog.addEventListener('cancel', (event) => { event.preventDefault(); close(); }); // Escape
  document.body.append(dialog);
  dialog.showModal();
  input.focus();
}
