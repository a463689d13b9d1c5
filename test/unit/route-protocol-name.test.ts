/**
 * `make install` names weft's route protocol for iproute2; the number it
 * writes must be the one weftd marks its routes with.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WEFT_ROUTE_PROTOCOL } from '../../src/core/kernel-state.js';

const makefile = readFileSync(fileURLToPath(new URL('../../../Makefile', import.meta.url)), 'utf8');
const line = makefile.split('\n').find((l) => l.includes('rt_protos.d/weft.conf') && l.includes('printf'));
t.ok(line, 'make install writes /etc/iproute2/rt_protos.d/weft.conf');
t.match(line ?? '', new RegExp(`printf '${WEFT_ROUTE_PROTOCOL}\\\\tweft\\\\n'`), `it names protocol ${WEFT_ROUTE_PROTOCOL} "weft"`);
