// Sign-in with the organisation's OpenID Connect provider: Authorization Code + PKCE (oidc-client-ts).
// The ID token is the API's bearer. It lives only in memory and in this tab's sessionStorage
// (oidc-client-ts's user store), is never logged, and only api.js sends it, to our own origin.
import { UserManager, WebStorageStateStore } from "oidc-client-ts";

const RESUME = "library.resume";
const SKEW_SECONDS = 30;

export function createAuth(oidc) {
  const home = `${window.location.origin}/`;
  const store = new WebStorageStateStore({ store: window.sessionStorage });
  const manager = new UserManager({
    authority: oidc.authority,
    client_id: oidc.client_id,
    scope: oidc.scope,
    redirect_uri: home,
    post_logout_redirect_uri: home,
    response_type: "code",
    userStore: store,
    stateStore: store,
    automaticSilentRenew: false,
    monitorSession: false,
    loadUserInfo: false,
  });
  let user = null;

  const idTokenValid = (u) => Boolean(u && u.id_token && u.profile && u.profile.exp &&
    u.profile.exp - SKEW_SECONDS > Date.now() / 1000);

  return {
    // Finish a sign-in when the provider has sent us back here; otherwise pick up this tab's session.
    async start() {
      const params = new URLSearchParams(window.location.search);
      if (params.has("state") && (params.has("code") || params.has("error"))) {
        try {
          user = await manager.signinRedirectCallback();
          const returnTo = (user.state && user.state.returnTo) || "#/";
          window.history.replaceState(null, "", `/${returnTo.startsWith("#/") ? returnTo : "#/"}`);
          return { signedIn: true, note: takeResumeNote() };
        } catch (error) {
          window.history.replaceState(null, "", "/#/");
          return { problem: "Signing in did not finish. Please try again." };
        }
      }
      const stored = await manager.getUser();
      if (idTokenValid(stored)) user = stored;
      else if (stored) await manager.removeUser();
      return {};
    },
    token() {
      return idTokenValid(user) ? user.id_token : null;
    },
    profile() {
      return user ? user.profile : null;
    },
    async signIn(returnTo = window.location.hash || "#/") {
      await manager.signinRedirect({ state: { returnTo } });
    },
    // The session ended under the user's feet: sign in again and come back to the same place.
    async signInAgain(note) {
      user = null;
      await manager.removeUser();
      window.sessionStorage.setItem(RESUME, note);
      await manager.signinRedirect({ state: { returnTo: window.location.hash || "#/" } });
    },
    async signOut() {
      const hint = user && user.id_token;
      user = null;
      await manager.removeUser();
      await manager.signoutRedirect({ id_token_hint: hint || undefined });
    },
  };
}

function takeResumeNote() {
  const note = window.sessionStorage.getItem(RESUME);
  window.sessionStorage.removeItem(RESUME);
  return note;
}
