import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FolderRules } from '../../src/migrate/folder-rules.js';

// FolderRules.apply keeps its last answer for the same folder array (every message of a folder asks with one array:
// issue 14, bytes allocated per message). Walks that interleave folders, and equal names in different arrays, must
// still get the rule's answer for each.

test('rules answer correctly when messages of different folders interleave, whatever array names the folder', () => {
  const rules = new FolderRules({ exclude: ['Trash'], map: ['Old=Archive/Old'] });
  const trash = ['Trash'];
  const old = ['Old', 'Sub'];
  const inbox: string[] = [];
  const expect = (parts: readonly string[]): string => {
    const r = rules.apply(parts);
    return r.excluded ? `excluded ${r.rule}` : `${r.parts.join('/') || 'INBOX'}${r.explicit ? ' (explicit)' : ''}`;
  };
  for (let round = 0; round < 3; round++) {
    assert.equal(expect(trash), 'excluded --exclude Trash');
    assert.equal(expect(trash), 'excluded --exclude Trash');
    assert.equal(expect(old), 'Archive/Old/Sub (explicit)');
    assert.equal(expect(['Old', 'Sub']), 'Archive/Old/Sub (explicit)', 'an equal array, not the same one');
    assert.equal(expect(inbox), 'INBOX');
    assert.equal(expect(['Trash']), 'excluded --exclude Trash');
    assert.equal(expect(['Work']), 'Work');
  }
  // The same array asked twice gives the very same answer object: no new object per message.
  assert.equal(rules.apply(old), rules.apply(old));
});

test('with no rules, the answer carries the folder as given', () => {
  const rules = new FolderRules();
  const a = ['A', 'B'];
  const r = rules.apply(a);
  assert.equal(r.excluded, false);
  assert.equal(!r.excluded && r.parts, a);
  assert.deepEqual(rules.apply(['C']), { excluded: false, parts: ['C'], explicit: false });
});
