// A real OpenID Connect provider for tests/test_sso.py: the certified `oidc-provider` package,
// listening on 127.0.0.1:$PORT. Accounts and clients come from the environment (JSON):
//   OIDC_ACCOUNTS = {"<login>": {"email": "...", "email_verified": true, "amr": ["pwd", "mfa"]}}
// (amr: how this provider says the account signed in; "pwd" when left out)
//   OIDC_CLIENTS  = [{"client_id": "...", "client_secret": "...", "redirect_uris": ["..."]}]
// The sign-in page is a plain form (POST login=<login>): the tests play the staff member.
// Consent is granted for every client (an organisation's own IdP, as Entra ID or Google
// Workspace are configured for an internal app). Prints "ready" when it listens.
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.OIDC_ACCOUNTS);
const clients = JSON.parse(process.env.OIDC_CLIENTS);

const provider = new Provider(issuer, {
  clients,
  pkce: { required: () => true },
  // The email claims in the ID token itself, as Google Workspace and Entra ID (optional claims)
  // send them; the app reads the ID token only.
  conformIdTokenClaims: false,
  scopes: ["openid", "email"],
  // amr (how the person signed in) as the account's claim: this test provider signs each
  // account in the way OIDC_ACCOUNTS says, and oidc-provider would leave it out otherwise.
  claims: { openid: ["sub", "amr"], email: ["email", "email_verified"] },
  cookies: { keys: ["test-only-cookie-key"] },
  features: { devInteractions: { enabled: false } },
  async findAccount(ctx, id) {
    if (!(id in accounts)) return undefined;
    const { amr = ["pwd"], ...claims } = accounts[id];
    return { accountId: id, claims: async () => ({ sub: id, amr, ...claims }) };
  },
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid email");
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600 },
  renderError(ctx, out) {
    ctx.type = "text/plain";
    ctx.body = `error: ${out.error}: ${out.error_description || ""}`;
  },
});

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)$/);
  if (!match) return next();
  if (ctx.method === "GET") {
    ctx.type = "html";
    ctx.body = `<!doctype html><form method="post" action="/interaction/${match[1]}">` +
      `<input name="login"><button>Sign in</button></form>`;
    return undefined;
  }
  if (ctx.method === "POST") {
    let raw = "";
    for await (const chunk of ctx.req) raw += chunk;
    const login = new URLSearchParams(raw).get("login");
    if (!(login in accounts)) {
      ctx.status = 400;
      ctx.body = "unknown login";
      return undefined;
    }
    const result = { login: { accountId: login, amr: accounts[login].amr || ["pwd"] } };
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
    ctx.respond = false;
    return undefined;
  }
  return next();
});

provider.listen(port, "127.0.0.1", () => console.log("ready"));
