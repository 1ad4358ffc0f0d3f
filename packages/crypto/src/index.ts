export { devKeyFile, generateKeySpec, type Keyring, loadKeyring, parseKeyring } from "./keyring.ts";
export { type KeyProvider, type Keys, keyProvider, LocalKeyProvider } from "./provider.ts";
export {
  aadFor,
  ENVELOPE_PREFIX,
  isEnvelope,
  needsReseal,
  open,
  rewrap,
  type Sealed,
  seal,
} from "./seal.ts";
export {
  API_KEY,
  hashToken,
  INSTANCE_TOKEN,
  isInstanceToken,
  mintApiKey,
  mintInstanceToken,
  randomSecret,
  safeEqual,
  sha256,
} from "./token.ts";
