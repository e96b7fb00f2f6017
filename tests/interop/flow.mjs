// Interoperability check: panva's openid-client (an OpenID-certified relying-party library)
// runs the whole code flow against the hub as an application would.
//
// Input (JSON on stdin):
//   { "issuer": "http://127.0.0.1:PORT", "cookie": "<Cookie header of a signed-in browser>",
//     "clients": [{ "label", "client_id", "client_secret"?, "auth": "client_secret_basic" |
//                   "client_secret_post" | "none", "redirect_uri", "post_logout_redirect_uri"? }] }
// Output (JSON on stdout): { "clients": { label: { step: { ok, ...facts } } } }. Every step
// runs even when an earlier one failed where it can, so one run shows every finding.
//
// The hub in the test listens on http://127.0.0.1, so requests are allowed over plain HTTP
// (allowInsecureRequests); every other check of the library stays on.

import * as client from 'openid-client'

const SCOPE = 'openid profile email offline_access'

async function authOf (spec) {
  switch (spec.auth) {
    case 'client_secret_basic': return client.ClientSecretBasic(spec.client_secret)
    case 'client_secret_post': return client.ClientSecretPost(spec.client_secret)
    case 'none': return client.None()
    case 'private_key_jwt': {
      // The application's own EC key (its public half is registered with the hub).
      const { kid, ...jwk } = spec.private_jwk
      const key = await crypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
      return client.PrivateKeyJwt({ key, kid })
    }
    default: throw new Error(`unknown auth method ${spec.auth}`)
  }
}

function failure (error) {
  const out = { ok: false, name: error?.name, message: String(error?.message ?? error) }
  if (error?.code) out.code = error.code
  if (error?.error) out.error = error.error
  if (error?.status) out.status = error.status
  if (error?.cause && typeof error.cause === 'object') {
    out.cause = JSON.parse(JSON.stringify(error.cause, (k, v) => (typeof v === 'bigint' ? String(v) : v)))
  }
  return out
}

async function step (results, name, work) {
  try {
    const facts = await work()
    results[name] = { ok: true, ...(facts || {}) }
    return facts
  } catch (error) {
    results[name] = failure(error)
    return undefined
  }
}

async function readStdin () {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

// The browser's part: the signed-in browser (its hub cookie) opens the authorization URL; the
// hub answers with a redirect to the application's redirect URI, which a browser would follow.
async function browse (url, cookie) {
  const response = await fetch(url, { redirect: 'manual', headers: { cookie } })
  const location = response.headers.get('location')
  if (response.status !== 302 || !location) {
    throw new Error(`authorization answered ${response.status} without a redirect`)
  }
  return new URL(location, url)
}

async function runClient (issuer, cookie, spec) {
  const results = {}
  const config = await step(results, 'discovery', async () => {
    const metadata = { redirect_uris: [spec.redirect_uri] }
    if (spec.id_token_alg) metadata.id_token_signed_response_alg = spec.id_token_alg
    const config = await client.discovery(
      new URL(issuer), spec.client_id, metadata, await authOf(spec),
      { execute: [client.allowInsecureRequests] }
    )
    const meta = config.serverMetadata()
    return { config, issuer: meta.issuer, supportsPKCE: config.serverMetadata().supportsPKCE() }
  }).then((facts) => facts?.config)
  if (results.discovery.ok) delete results.discovery.config
  if (!config) return results

  if (spec.flow === 'client_credentials') {
    const service = await step(results, 'client_credentials', async () => {
      const tokens = await client.clientCredentialsGrant(config)
      return { tokens, token_type: tokens.token_type, has_refresh_token: Boolean(tokens.refresh_token) }
    }).then((facts) => facts?.tokens)
    if (results.client_credentials.ok) delete results.client_credentials.tokens
    if (service) {
      await step(results, 'introspection', async () => {
        const found = await client.tokenIntrospection(config, service.access_token)
        return { active: found.active, sub: found.sub, client_id: found.client_id }
      })
    }
    return results
  }

  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = await step(results, 'authorization_url', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: spec.redirect_uri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce
    })
    return { url: url.href }
  }).then((facts) => facts?.url)
  if (!authorizationUrl) return results

  const callback = await step(results, 'browser', async () => {
    const callback = await browse(authorizationUrl, cookie)
    return { callback, has_code: callback.searchParams.has('code'), iss: callback.searchParams.get('iss') }
  }).then((facts) => facts?.callback)
  if (results.browser.ok) delete results.browser.callback
  if (!callback) return results

  const tokens = await step(results, 'code_exchange', async () => {
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true
    })
    const claims = tokens.claims()
    return {
      tokens,
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      has_refresh_token: Boolean(tokens.refresh_token),
      scope: tokens.scope,
      id_token_claims: claims,
      id_token_alg: JSON.parse(Buffer.from(tokens.id_token.split('.')[0], 'base64url')).alg
    }
  }).then((facts) => facts?.tokens)
  if (results.code_exchange.ok) delete results.code_exchange.tokens
  if (!tokens) return results
  const subject = tokens.claims().sub

  await step(results, 'userinfo', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, subject)
    return { claims: info }
  })

  let refreshed
  await step(results, 'refresh', async () => {
    refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
    return {
      rotated: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
      has_id_token: Boolean(refreshed.id_token),
      id_token_sub: refreshed.id_token ? refreshed.claims().sub : null
    }
  })

  if (spec.auth !== 'none') {
    await step(results, 'introspection', async () => {
      const found = await client.tokenIntrospection(config, refreshed.access_token)
      return { active: found.active, sub: found.sub, client_id: found.client_id }
    })
  }

  await step(results, 'reused_refresh', async () => {
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token)
    } catch (error) {
      return { refused: true, error: error.error, status: error.status }
    }
    return { refused: false }
  })

  if (spec.auth !== 'none') {
    await step(results, 'introspection_after_reuse', async () => {
      const found = await client.tokenIntrospection(config, refreshed.access_token)
      return { active: found.active }
    })
  }

  // The reused refresh token revoked its family; sign in again for a fresh family to revoke.
  const fresh = await step(results, 'second_authorization', async () => {
    const verifier2 = client.randomPKCECodeVerifier()
    const state2 = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: spec.redirect_uri,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier2),
      code_challenge_method: 'S256',
      state: state2
    })
    const tokens2 = await client.authorizationCodeGrant(config, await browse(url.href, cookie), {
      pkceCodeVerifier: verifier2, expectedState: state2, idTokenExpected: true
    })
    return { tokens2 }
  }).then((facts) => facts?.tokens2)
  if (results.second_authorization.ok) delete results.second_authorization.tokens2

  if (fresh) {
    await step(results, 'revocation', async () => {
      await client.tokenRevocation(config, fresh.refresh_token, { token_type_hint: 'refresh_token' })
      let refusedAfter = false
      try {
        await client.refreshTokenGrant(config, fresh.refresh_token)
      } catch (error) {
        refusedAfter = error.error === 'invalid_grant'
      }
      return { refresh_refused_after: refusedAfter }
    })
  }

  await step(results, 'end_session_url', async () => {
    const params = { id_token_hint: tokens.id_token, state: client.randomState() }
    if (spec.post_logout_redirect_uri) params.post_logout_redirect_uri = spec.post_logout_redirect_uri
    const url = client.buildEndSessionUrl(config, params)
    // Ask the hub whether it accepts the URL the library built (without following it, and
    // without the browser's cookie, so no session ends here).
    const response = await fetch(url, { redirect: 'manual' })
    return { url: url.href, status: response.status, location: response.headers.get('location') }
  })

  // Last: the hub revokes what a replayed code issued (RFC 6749 §4.1.2).
  await step(results, 'replayed_code', async () => {
    try {
      await client.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true
      })
    } catch (error) {
      return { refused: true, error: error.error, status: error.status }
    }
    return { refused: false }
  })

  if (spec.auth === 'client_secret_basic' || spec.auth === 'client_secret_post') {
    await step(results, 'wrong_secret', async () => {
      const wrong = spec.auth === 'client_secret_basic'
        ? client.ClientSecretBasic('not-the-secret')
        : client.ClientSecretPost('not-the-secret')
      const badConfig = new client.Configuration(config.serverMetadata(), spec.client_id, {}, wrong)
      client.allowInsecureRequests(badConfig)
      try {
        await client.refreshTokenGrant(badConfig, 'no-such-token')
      } catch (error) {
        // A 401 with WWW-Authenticate is a WWWAuthenticateChallengeError whose cause lists
        // the challenges; a JSON error body alone is a ResponseBodyError.
        const challenges = Array.isArray(error.cause) ? error.cause : []
        return {
          refused: true,
          kind: error.name,
          error: error.error ?? error.cause?.error ?? challenges[0]?.parameters?.error,
          status: error.status,
          challenge_schemes: challenges.map((challenge) => challenge.scheme),
          body_error: (await error.response?.json?.().catch(() => null))?.error ?? null
        }
      }
      return { refused: false }
    })
  }
  return results
}

const input = await readStdin()
const output = { clients: {} }
for (const spec of input.clients) {
  output.clients[spec.label] = await runClient(input.issuer, input.cookie, spec)
}
process.stdout.write(JSON.stringify(output, null, 2) + '\n')
