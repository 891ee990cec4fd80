import test from 'ava';
import { StreamNotifier } from '../../src/stream/notifier.js';
import { TypingManager } from '../../src/accounts/typing.js';

test('typing changes are tracked per room, so a sync sends m.typing only where it changed', (t) => {
  const notifier = new StreamNotifier(0);
  const typing = new TypingManager(notifier);
  t.teardown(() => typing.stop());
  const token = notifier.ephemeral;

  typing.setTyping('!a:x', '@alice:x', true);
  t.true(typing.typingChangedSince('!a:x', token));
  t.false(typing.typingChangedSince('!b:x', token), 'a room nobody typed in is unchanged');
  t.deepEqual(typing.typingFor('!a:x'), ['@alice:x']);

  const later = notifier.ephemeral;
  typing.setTyping('!a:x', '@alice:x', true); // renewal: nothing visible changes
  t.false(typing.typingChangedSince('!a:x', later));
  typing.setTyping('!a:x', '@alice:x', false);
  t.true(typing.typingChangedSince('!a:x', later));
  t.deepEqual(typing.typingFor('!a:x'), []);

  // A token minted before a restart carries a serial ahead of this process: everything changed.
  t.true(typing.typingChangedSince('!b:x', notifier.ephemeral + 5));
});
