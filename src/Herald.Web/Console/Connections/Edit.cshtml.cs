using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Herald.Credentials;
using Herald.Delivery;
using Herald.Settings;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Herald.Web.Console.Connections;

/// <summary>The form an SMTP connection is edited with; every field arrives as typed.</summary>
public sealed class ConnectionForm
{
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
    public string? TestFrom { get; set; }
    public string? TestTo { get; set; }
    public string? TestSubject { get; set; }
    public string? TestBody { get; set; }

    public override string ToString() => $"ConnectionForm {Name}, password {(string.IsNullOrEmpty(Password) ? "unchanged" : "given")}";
}

/// <summary>Add or edit an SMTP connection (the Harness wizard), and Test it as typed before
/// saving. The password is write-only: the form says whether one is set, never what it is.</summary>
public sealed class EditModel(OutgoingSettingsService service, ISettingsStore store, CredentialVault vault, TestEmailService tester, TimeProvider time) : ConsolePage
{
    private const int MaxCertificateBytes = 64 * 1024;

    public bool IsNew { get; private set; } = true;

    public SmtpConnection? Stored { get; private set; }

    public ConnectionForm Form { get; private set; } = new();

    public TestView? Test { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? name)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseConnections();
        }

        if (name is not null)
        {
            Stored = await store.GetConnectionAsync(name, HttpContext.RequestAborted);
            if (Stored is null)
            {
                return NotFound();
            }

            IsNew = false;
            Form = FormOf(Stored);
        }
        else
        {
            Form = new ConnectionForm { Port = "587", Security = "starttls-required", Auth = "anonymous", ConnectionLimit = "4" };
        }

        Form.TestFrom = await DefaultFromAsync();
        Form.TestSubject = "Herald test email";
        Form.TestBody = "This is a test email sent by Herald to check an SMTP connection.";
        return Page();
    }

    public async Task<IActionResult> OnPostSaveAsync([FromForm] ConnectionForm form, [FromQuery] string? name)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseConnections();
        }

        if (await ReadAsync(form, name) is not { } update)
        {
            return Invalid();
        }

        var errors = await service.SaveConnectionAsync(Form.Name, IsNew, update, HttpContext.RequestAborted);
        if (errors.Count > 0)
        {
            AddErrors(errors);
            return Invalid();
        }

        Notice = $"Saved SMTP connection {Form.Name!.Trim().ToLowerInvariant()}.";
        return Redirect("/connections");
    }

    public async Task<IActionResult> OnPostTestAsync([FromForm] ConnectionForm form, [FromQuery] string? name)
    {
        if (!Admin.IsGlobal)
        {
            return RefuseConnections();
        }

        var update = await ReadAsync(form, name);
        if (!EmailAddress.TryParse(form.TestFrom, out var from, out var fromError))
        {
            ModelState.AddModelError("testFrom", $"From: {fromError}");
        }

        if (!EmailAddress.TryParse(form.TestTo, out var to, out var toError))
        {
            ModelState.AddModelError("testTo", $"To: {toError}");
        }

        if (update is null || from is null || to is null || ModelState.ErrorCount > 0)
        {
            return Invalid();
        }

        var (connection, errors) = await service.PrepareConnectionAsync(Form.Name, IsNew, update, HttpContext.RequestAborted);
        if (connection is null)
        {
            AddErrors(errors);
            return Invalid();
        }

        // Secrets typed in the form were sealed by the preparation; those left blank are the stored ones.
        var (opened, problem) = await OpenedConnection.OpenAsync(connection, vault, HttpContext.RequestAborted);
        if (opened is null)
        {
            Test = new TestView(problem, null, null);
            return Page();
        }

        using (opened)
        {
            var result = await tester.SendThroughAsync(opened, from, [to], Limit(form.TestSubject, 200), Limit(form.TestBody, 10_000), HttpContext.RequestAborted);
            Test = new TestView(null, result, $"{connection.Host}:{connection.Port}");
        }

        return Page();
    }

    private PageResult Invalid()
    {
        Response.StatusCode = 400;
        return Page();
    }

    private ContentResult RefuseConnections() =>
        Refuse("SMTP connections are shared by every scope: only administrators of / manage them.");

    /// <summary>The form as an update; null (with field errors) when a number does not parse or the certificate is refused.</summary>
    private async Task<OutgoingSettingsUpdate?> ReadAsync(ConnectionForm form, string? name)
    {
        Form = form;
        if (name is not null)
        {
            Stored = await store.GetConnectionAsync(name, HttpContext.RequestAborted);
            IsNew = Stored is null;
            Form.Name = name;
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

        if (ModelState.ErrorCount > 0)
        {
            return null;
        }

        var anonymous = string.Equals(form.Auth, "anonymous", StringComparison.Ordinal);
        return new OutgoingSettingsUpdate(Herald.Scopes.ScopePath.Root)
        {
            Host = form.Server?.Trim() ?? "",
            Port = port,
            Security = form.Security,
            Authentication = anonymous
                ? new AuthenticationChange.ToAnonymous()
                : new AuthenticationChange.ToSasl(string.IsNullOrWhiteSpace(form.Username) ? null : form.Username.Trim(), string.IsNullOrEmpty(form.Password) ? null : form.Password, form.Mechanisms),
            ClientCertificate = certificate,
            ConnectionLimit = limit,
            RateLimitPerMinute = rate,
            NodeTags = (form.NodeTags ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
    }

    /// <summary>PEM with the key, or PKCS#12 without a password, checked by the product's rules
    /// (private key, RSA or ECDSA, digitalSignature, clientAuth, not expired); the reason otherwise.</summary>
    private async Task<X509Certificate2?> LoadCertificateAsync(IFormFile upload)
    {
        if (upload.Length > MaxCertificateBytes)
        {
            ModelState.AddModelError("clientCertificate", $"The certificate file is larger than {MaxCertificateBytes / 1024} KiB; give a PEM or PKCS#12 file with one certificate and its key.");
            return null;
        }

        var path = Path.GetTempFileName();
        try
        {
            await using (var file = System.IO.File.Create(path))
            {
                await upload.CopyToAsync(file, HttpContext.RequestAborted);
            }

            if (!ClientCertificates.TryLoad(path, out var certificate, out var error))
            {
                ModelState.AddModelError("clientCertificate", error.Replace($"'{path}'", $"'{upload.FileName}'", StringComparison.Ordinal));
                return null;
            }

            if (ClientCertificates.Check(certificate, time.GetUtcNow()) is { } problem)
            {
                certificate.Dispose();
                ModelState.AddModelError("clientCertificate", problem);
                return null;
            }

            return certificate;
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    private async Task<string> DefaultFromAsync()
    {
        var root = await service.GetEffectiveAsync(Herald.Scopes.ScopePath.Root, HttpContext.RequestAborted);
        return root?.FromAddress.Value?.Value ?? "";
    }

    private static string Limit(string? text, int length) => text is null ? "" : text.Length <= length ? text : text[..length];

    private static ConnectionForm FormOf(SmtpConnection c) => new()
    {
        Name = c.Name,
        Server = c.Host,
        Port = c.Port.ToString(CultureInfo.InvariantCulture),
        Security = SmtpSecurityNames.Values.NameOf(c.Security),
        Auth = c.Authentication.IsAnonymous ? "anonymous" : "password",
        Mechanisms = [.. c.Authentication.Mechanisms],
        Username = c.Authentication.UserName,
        ConnectionLimit = c.ConnectionLimit.ToString(CultureInfo.InvariantCulture),
        RateLimitPerMinute = c.RateLimitPerMinute?.ToString(CultureInfo.InvariantCulture) ?? "",
        NodeTags = string.Join(", ", c.NodeTags),
    };
}
