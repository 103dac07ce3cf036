export { createApp, type AppDeps, type AppEnv } from './app.js'
export { listen, type Listening } from './listen.js'
export { statusFor } from './error-response.js'
export type { AdminApi } from './routes/admin.js'
