export { StoreError, StoreFullError, CorruptBlobError } from './errors.js'
export {
  type BlobStore,
  type BlobStoreOptions,
  type BlobInfo,
  type BlobRef,
  type BlobReader,
  type BlobWriter,
  type WriteChunk,
  type Flight,
  type LeaderState,
  openBlobStore,
} from './blobs.js'
export { type RecordStore, type StoredRecord, openRecordStore } from './records.js'
export { type TrustStateStore, openTrustStateStore, trustFileName } from './trust-state.js'
export { writeFileAtomic, removeStaleTemps, isTempName } from './atomic-file.js'
export { type LockFiles, type LockState, type HeldLock, openLockFiles } from './locks.js'
