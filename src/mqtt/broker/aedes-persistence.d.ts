/**
 * aedes-persistence ships its in-memory class as CommonJS, with its types under `types/` rather than
 * beside the file: this points the file's import at those types. The class is imported statically
 * (not through createRequire) so that both bundles carry it: the single executable has no
 * node_modules to look in at run time.
 */
declare module 'aedes-persistence/asyncPersistence.js' {
  import MemoryPersistence = require('aedes-persistence/types/asyncPersistence.js');
  export = MemoryPersistence;
}
