using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Herald.Delivery;
using Herald.Scopes;
using Herald.Settings;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console.Connections;

/// <summary>The form an SMTP connection is edited with; every field arrives as typed.</summary>
public sealed class ConnectionForm
{
    public string? Owner { get; set; }
    public string? Name { get; set; }
    public string? Server { get; set; }
    public string? Port { get; set; }
    public string? Security { get; set; }
    public string? Auth { get; set; }
    public string[] Mechanisms { get; set; } = [];
    public string? Username { get; set; }
    public string? Password { get; set; }
    public IFormFile? ClientCertificate { get; set; }
    public bool RemoveCertificate { get; set; }
    public string? ConnectionLimit { get; set; }
    public string? RateLimitPerMinute { get; set; }
    public string? NodeTags { get; set; }
    public string? EhloName { get; set; }
    public bool AllowPlaintextAuth { get; set; }
    public string? OAuthProvider { get; set; }
    public string? OAuthGrant { get; set; }
    public string? Tenant { get; set; }
    public string? Authority { get; set; }
    public string? ClientId { get; set; }
    public string? ClientSecret { get; set; }
    public IFormFile? OAuthCertificate { get; set; }
    public IFormFile? ServiceAccountKey { get; set; }
    public string? TokenEndpoint { get; set; }
    public string? AuthorizationEndpoint { get; set; }
    public string? OAuthScope { get; set; }
    public string? KerberosRealm { get; set; }
    public string? Keytab { get; set; }
    public string? CredentialCache { get; set; }
    public string? ServicePrincipal { get; set; }
    public string? TestFrom { get; set; }
    public string? TestTo { get; set; }
    public string? TestSubject { get; set; }
    public string? TestBody { get; set; }

    public override string ToString() =>
        $"ConnectionForm {Name}, password {(string.IsNullOrEmpty(Password) ? "unchanged" : "given")}, client secret {(string.IsNullOrEmpty(ClientSecret) ? "unchanged" : "given")}";
}

/// <summary>Add or edit an SMTP connection (the Harness wizard) owned by a scope, Test it as typed
/// before saving, or delete it. The password is write-only: the form says whether one is set,
/// never what it is. Who may do which is <see cref="OutgoingSettingsService"/>'s to decide.</summary>
public sealed class EditModel(OutgoingSettingsService service, ISettingsStore store, TestEmailService tester, TimeProvider time) : ConsolePage
{
    public bool IsNew { get; private set; } = true;

    /// <summary>The scope the connection belongs to.</summary>
    public ScopePath Owner { get; private set; } = ScopePath.Root;

    /// <summary>The scopes a new connection may belong to: those this administrator administers.</summary>
    public IReadOnlyList<ScopePath> Owners { get; private set; } = [];

    public SmtpConnection? Stored { get; private set; }

    public IReadOnlyList<ScopePath> UsedBy { get; private set; } = [];

    public ConnectionForm Form { get; private set; } = new();

    public TestView? Test { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? scope, string? name)
    {
        Owner = ParseOwner(scope);
        if (name is not null)
        {
            var found = await service.GetConnectionAsync(Caller, Owner, name, HttpContext.RequestAborted);
            if (found.Refusal is { } refusal)
            {
                return Refused(refusal, Page);
            }

            if (!found.Value!.Editable)
            {
                return Refuse($"SMTP connection {found.Value.Connection.Qualified} belongs to {Owner}: only its administrators change it.");
            }

            Stored = found.Value.Connection;
            UsedBy = found.Value.UsedBy;
            IsNew = false;
            Form = FormOf(Stored);
        }
        else
        {
            if (!Caller.Administers(Owner))
            {
                Owner = Admin.Scope;
            }

            // A new connection's defaults are Core's, as for the CLI and the API (port 25, STARTTLS
            // when available, anonymous): read from a connection that sets nothing.
            Form = FormOf(new SmtpConnection { Id = "", Owner = Owner, Name = "", Host = "" });
        }

        await LoadOwnersAsync();
        Form.TestFrom = await DefaultFromAsync();
        Form.TestSubject = "Herald test email";
        Form.TestBody = "This is a test email sent by Herald to check an SMTP connection.";
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromForm] ConnectionForm form, [FromQuery] string? scope, [FromQuery] string? name)
    {
        if (await ReadAsync(form, scope, name) is not { } save)
        {
            return await InvalidAsync();
        }

        var saved = await service.SaveConnectionAsync(Caller, save, HttpContext.RequestAborted);
        if (saved.Refusal is { } refusal)
        {
            await LoadOwnersAsync();
            return Refused(refusal, Redisplay);
        }

        var connection = saved.Value.Connection;
        Notice = string.Join(" ", new[] { $"Saved SMTP connection {connection.Qualified}." }.Concat(saved.Value.Notes));
        return Redirect("/connections");
    }

    public async Task<IActionResult> OnPostDeleteAsync([FromQuery] string? scope, [FromQuery] string? name)
    {
        Owner = ParseOwner(scope);
        var refusal = await service.DeleteConnectionAsync(Caller, Owner, name, HttpContext.RequestAborted);
        if (refusal is not null)
        {
            Notice = refusal.Sentence;
            return refusal.Kind is RefusalKind.Conflict
                ? Redirect($"/connections/edit?scope={Uri.EscapeDataString(Owner.Value)}&name={Uri.EscapeDataString(name ?? "")}")
                : Refused(refusal, () => Redirect("/connections"));
        }

        Notice = $"Deleted SMTP connection {ConnectionReference.Qualified(Owner, name!.Trim().ToLowerInvariant())}.";
        return Redirect("/connections");
    }

    public async Task<IActionResult> OnPostTestAsync([FromForm] ConnectionForm form, [FromQuery] string? scope, [FromQuery] string? name)
    {
        var save = await ReadAsync(form, scope, name);
        if (!EmailAddress.TryParse(form.TestFrom, out var from, out var fromError))
        {
            ModelState.AddModelError("testFrom", $"From: {fromError}");
        }

        if (!EmailAddress.TryParse(form.TestTo, out var to, out var toError))
        {
            ModelState.AddModelError("testTo", $"To: {toError}");
        }

        if (save is null || from is null || to is null || ModelState.ErrorCount > 0)
        {
            return await InvalidAsync();
        }

        // Secrets typed in the form are used as typed; those left blank are the stored ones.
        var outcome = await tester.SendThroughAsync(Caller, save, from, [to], form.TestSubject ?? "", form.TestBody ?? "", HttpContext.RequestAborted);
        if (outcome.Refusal is { } refusal)
        {
            await LoadOwnersAsync();
            return Refused(refusal, Redisplay);
        }

        var result = outcome.Value!;
        Test = new TestView(result.Problem, result.Result, result.Connection is { } c ? $"{c.Qualified} ({c.Host}:{c.Port})" : null);
        await LoadOwnersAsync();
        return Page();
    }

    private async Task<PageResult> InvalidAsync()
    {
        await LoadOwnersAsync();
        return Redisplay();
    }

    /// <summary>The form again, with the problems next to their fields.</summary>
    private PageResult Redisplay()
    {
        Response.StatusCode = 400;
        return Page();
    }

    private async Task LoadOwnersAsync() =>
        Owners = (await store.ListScopesAsync(HttpContext.RequestAborted)).Where(Caller.Administers).OrderBy(s => s.Value, StringComparer.Ordinal).ToArray();

    private ScopePath ParseOwner(string? scope) => ScopePath.TryParse(scope ?? "/", out var owner, out _) ? owner : Admin.Scope;

    /// <summary>The form as a connection change; null (with field errors) when a number does not parse or the certificate cannot be read.</summary>
    private async Task<ConnectionSave?> ReadAsync(ConnectionForm form, string? scope, string? name)
    {
        Form = form;
        // An existing connection is named by the query; a new one by the form (its owner and name).
        var isNew = name is null;
        IsNew = isNew;
        Owner = ParseOwner(isNew ? form.Owner ?? scope : scope);
        if (!isNew)
        {
            Form.Name = name;
            var found = await service.GetConnectionAsync(Caller, Owner, name, HttpContext.RequestAborted);
            Stored = found.Value?.Connection;
            UsedBy = found.Value?.UsedBy ?? [];
        }

        int? Number(string? text, string field, string label, int? empty)
        {
            if (string.IsNullOrWhiteSpace(text))
            {
                return empty;
            }

            if (int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }

            ModelState.AddModelError(field, $"{label} must be a whole number.");
            return null;
        }

        var port = Number(form.Port, "port", "The port", SmtpConnection.DefaultPort);
        var limit = Number(form.ConnectionLimit, "connectionLimit", "The connection limit", null);
        var rate = Number(form.RateLimitPerMinute, "rateLimitPerMinute", "The rate limit", 0);
        ClientCertificateChange? certificate = form.RemoveCertificate ? new ClientCertificateChange.Remove() : null;
        if (form.ClientCertificate is { Length: > 0 } upload)
        {
            certificate = await LoadCertificateAsync(upload) is { } loaded ? new ClientCertificateChange.Replace(loaded) : null;
        }

        var oauth = form.Auth == AuthenticationChange.OAuth2 ? await OAuthChangeAsync(form) : null;
        if (ModelState.ErrorCount > 0)
        {
            return null;
        }

        var userName = string.IsNullOrWhiteSpace(form.Username) ? null : form.Username.Trim();
        return new ConnectionSave(Owner, Form.Name, isNew, new ConnectionUpdate
        {
            Host = form.Server?.Trim() ?? "",
            Port = port,
            Security = form.Security,
            Authentication = form.Auth switch
            {
                "anonymous" => new AuthenticationChange.ToAnonymous(),
                AuthenticationChange.OAuth2 => new AuthenticationChange.ToOAuth(userName, oauth!),
                AuthenticationChange.KerberosAuth => new AuthenticationChange.ToKerberos(userName, KerberosChangeOf(form, Stored?.Authentication.Kerberos)),
                _ => new AuthenticationChange.ToSasl(userName, string.IsNullOrEmpty(form.Password) ? null : form.Password, form.Mechanisms),
            },
            ClientCertificate = certificate,
            ConnectionLimit = limit,
            RateLimitPerMinute = rate,
            NodeTags = (form.NodeTags ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            EhloName = form.EhloName ?? "",
            AllowPlaintextAuth = form.AllowPlaintextAuth,
        });
    }

    /// <summary>The Kerberos fields as typed: a path is a change only when it differs from the stored
    /// one (so that a scope administrator can edit the rest of a connection whose keytab they may
    /// not name); blank keeps what is stored, except the service principal (blank: the default).</summary>
    private static KerberosChange KerberosChangeOf(ConnectionForm form, KerberosSettings? stored)
    {
        static string? Typed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        var keytab = Typed(form.Keytab);
        var cache = Typed(form.CredentialCache);
        return new KerberosChange
        {
            Realm = Typed(form.KerberosRealm),
            Keytab = keytab == stored?.Keytab ? null : keytab,
            CredentialCache = cache == stored?.CredentialCache ? null : cache,
            ServicePrincipal = form.ServicePrincipal?.Trim() ?? "",
        };
    }

    /// <summary>The OAuth 2.0 fields as typed: blank fields keep what is stored (a secret is never
    /// shown, so blank means "keep it"); the scope field is taken as typed, blank for the default.</summary>
    private async Task<OAuthChange> OAuthChangeAsync(ConnectionForm form)
    {
        static string? Typed(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();
        X509Certificate2? certificate = null;
        if (form.OAuthCertificate is { Length: > 0 } upload)
        {
            certificate = await LoadCertificateAsync(upload, "oauthCertificate");
        }

        string? serviceAccountKey = null;
        if (form.ServiceAccountKey is { Length: > 0 } key)
        {
            if (key.Length > 64 * 1024)
            {
                ModelState.AddModelError("serviceAccountKey", "A service-account key is a JSON file of a few KiB; this one is larger than 64 KiB.");
            }
            else
            {
                using var reader = new StreamReader(key.OpenReadStream());
                serviceAccountKey = await reader.ReadToEndAsync(HttpContext.RequestAborted);
            }
        }

        return new OAuthChange
        {
            Provider = Typed(form.OAuthProvider),
            Grant = Typed(form.OAuthGrant),
            Tenant = Typed(form.Tenant),
            Authority = Typed(form.Authority),
            ClientId = Typed(form.ClientId),
            TokenEndpoint = Typed(form.TokenEndpoint),
            AuthorizationEndpoint = Typed(form.AuthorizationEndpoint),
            Scope = form.OAuthScope?.Trim() ?? "",
            Mechanisms = form.Mechanisms.Where(m => OAuthNames.Mechanisms.Contains(m, StringComparer.OrdinalIgnoreCase)).ToArray(),
            ClientSecret = string.IsNullOrEmpty(form.ClientSecret) ? null : form.ClientSecret,
            ClientCertificate = certificate,
            ServiceAccountKey = serviceAccountKey,
        };
    }

    /// <summary>PEM with the key, or PKCS#12 without a password, checked by the product's rules
    /// (private key, RSA or ECDSA, digitalSignature, clientAuth, not expired); the reason otherwise.</summary>
    private async Task<X509Certificate2?> LoadCertificateAsync(IFormFile upload, string field = "clientCertificate")
    {
        if (upload.Length > ClientCertificates.MaxBytes)
        {
            ModelState.AddModelError(field, $"The certificate file is larger than {ClientCertificates.MaxBytes / 1024} KiB; give a PEM or PKCS#12 file with one certificate and its key.");
            return null;
        }

        using var buffer = new MemoryStream();
        await upload.CopyToAsync(buffer, HttpContext.RequestAborted);
        if (!ClientCertificates.TryLoad(buffer.ToArray(), $"'{Path.GetFileName(upload.FileName)}'", out var certificate, out var error))
        {
            ModelState.AddModelError(field, error);
            return null;
        }

        if (ClientCertificates.Check(certificate, time.GetUtcNow()) is { } problem)
        {
            certificate.Dispose();
            ModelState.AddModelError(field, problem);
            return null;
        }

        return certificate;
    }

    private async Task<string> DefaultFromAsync()
    {
        var effective = await service.GetEffectiveAsync(Owner, HttpContext.RequestAborted);
        return effective?.FromAddress.Value?.Value ?? "";
    }

    private static ConnectionForm FormOf(SmtpConnection c) => new()
    {
        Name = c.Name,
        Server = c.Host,
        Port = c.Port.ToString(CultureInfo.InvariantCulture),
        Security = SmtpSecurityNames.Values.NameOf(c.Security),
        Auth = c.Authentication.IsAnonymous ? "anonymous"
            : c.Authentication.OAuth is not null ? AuthenticationChange.OAuth2
            : c.Authentication.Kerberos is not null ? AuthenticationChange.KerberosAuth : "password",
        KerberosRealm = c.Authentication.Kerberos?.Realm,
        Keytab = c.Authentication.Kerberos?.Keytab,
        CredentialCache = c.Authentication.Kerberos?.CredentialCache,
        ServicePrincipal = c.Authentication.Kerberos?.ServicePrincipal,
        OAuthProvider = c.Authentication.OAuth is { } o ? OAuthNames.Providers.NameOf(o.Provider) : "microsoft",
        OAuthGrant = c.Authentication.OAuth is { } g ? OAuthNames.Grants.NameOf(g.Grant) : "client-credentials",
        Tenant = c.Authentication.OAuth?.Tenant,
        Authority = c.Authentication.OAuth?.Authority,
        ClientId = c.Authentication.OAuth?.ClientId,
        TokenEndpoint = c.Authentication.OAuth?.TokenEndpoint,
        AuthorizationEndpoint = c.Authentication.OAuth?.AuthorizationEndpoint,
        OAuthScope = c.Authentication.OAuth?.Scope,
        Mechanisms = [.. c.Authentication.Mechanisms],
        Username = c.Authentication.UserName,
        ConnectionLimit = c.ConnectionLimit.ToString(CultureInfo.InvariantCulture),
        RateLimitPerMinute = c.RateLimitPerMinute?.ToString(CultureInfo.InvariantCulture) ?? "",
        NodeTags = string.Join(", ", c.NodeTags),
        EhloName = c.EhloName,
        AllowPlaintextAuth = c.AllowPlaintextAuth,
    };
}
