export { TufSession, type TufSessionOptions, type MetadataFetcher, type MetadataStore, type TufStatus, type RoleStatus, type TargetLookup } from './session.js'
