using Npgsql;

namespace Herald.Storage.Database;

/// <summary>Which database an operator's <c>--database</c> value names.</summary>
public static class HeraldDatabases
{
    private const string AcceptedForms =
        "The database must be left empty (SQLite in the data directory), a PostgreSQL URL such as "
        + "postgres://user:password@host:5432/herald, or an Npgsql connection string such as "
        + "Host=host;Port=5432;Username=user;Password=…;Database=herald.";

    // libpq's URL parameter names and the Npgsql keywords they become; any other parameter
    // must be an Npgsql keyword itself (?Maximum Pool Size=50).
    private static readonly Dictionary<string, string> LibpqParameters = new(StringComparer.OrdinalIgnoreCase)
    {
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["options"] = "Options",
        ["sslmode"] = "SSL Mode",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
        ["target_session_attrs"] = "Target Session Attributes",
    };

    private static readonly Dictionary<string, string> SslModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["disable"] = "Disable",
        ["allow"] = "Allow",
        ["prefer"] = "Prefer",
        ["require"] = "Require",
        ["verify-ca"] = "VerifyCA",
        ["verify-full"] = "VerifyFull",
    };

    /// <summary>Opens the database named by <paramref name="database"/>: nothing for the embedded
    /// SQLite file in <paramref name="dataDirectory"/>, a <c>postgres://</c> or
    /// <c>postgresql://</c> URL, or an Npgsql connection string containing <c>Host=</c>.</summary>
    /// <exception cref="ArgumentException">Anything else, with one sentence an operator can act on
    /// (it never repeats the value, which may hold a password).</exception>
    public static HeraldDatabase Open(string? database, string dataDirectory)
    {
        if (string.IsNullOrWhiteSpace(database))
        {
            return new SqliteDatabase(dataDirectory);
        }

        var value = database.Trim();
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase)
            || value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new PostgresDatabase(ConnectionStringFromUrl(value));
        }

        if (value.Contains("Host=", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new PostgresDatabase(value);
            }
            catch (ArgumentException ex)
            {
                // Npgsql names the keyword, not its value.
                throw new ArgumentException($"The PostgreSQL connection string is not valid ({ex.Message.TrimEnd('.')}). {AcceptedForms}", ex);
            }
        }

        throw new ArgumentException(AcceptedForms);
    }

    /// <summary>
    /// A libpq URL as an Npgsql connection string:
    /// <c>postgres[ql]://[user[:password]@][host[:port][,host[:port]…]][/database][?name=value&amp;…]</c>.
    /// Every part is percent-decoded (<c>+</c> stays a plus), so a password may hold any character
    /// written as <c>%XX</c>; an unencoded <c>@</c> in it also works, as the last <c>@</c> ends the
    /// user part. A host may be an <c>[IPv6]</c> literal or, percent-encoded, a Unix socket
    /// directory. The parameters host, port, user, password and dbname override the URL's parts;
    /// libpq's application_name, connect_timeout, options, sslmode, sslrootcert, sslcert, sslkey,
    /// sslpassword and target_session_attrs are translated; any other name is taken as an Npgsql
    /// keyword.
    /// </summary>
    private static string ConnectionStringFromUrl(string url)
    {
        var builder = new NpgsqlConnectionStringBuilder();
        var rest = url[(url.IndexOf("://", StringComparison.Ordinal) + 3)..];
        if (rest.IndexOf('#', StringComparison.Ordinal) is var fragment and >= 0)
        {
            rest = rest[..fragment];
        }

        var query = "";
        if (rest.IndexOf('?', StringComparison.Ordinal) is var question and >= 0)
        {
            query = rest[(question + 1)..];
            rest = rest[..question];
        }

        var authority = rest;
        if (rest.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0)
        {
            authority = rest[..slash];
            if (Decode(rest[(slash + 1)..]) is { Length: > 0 } name)
            {
                builder.Database = name;
            }
        }

        if (authority.LastIndexOf('@') is var at and >= 0)
        {
            var user = authority[..at];
            authority = authority[(at + 1)..];
            var colon = user.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && Decode(user[(colon + 1)..]) is { Length: > 0 } password)
            {
                builder.Password = password;
            }

            if (Decode(colon >= 0 ? user[..colon] : user) is { Length: > 0 } username)
            {
                builder.Username = username;
            }
        }

        SetHosts(builder, authority);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Decode(equals >= 0 ? pair[..equals] : pair);
            var value = equals >= 0 ? Decode(pair[(equals + 1)..]) : "";
            SetParameter(builder, name, value);
        }

        return builder.ConnectionString;
    }

    // One host goes to Host and Port; several become Npgsql's "h1:p1,h2:p2" list.
    private static void SetHosts(NpgsqlConnectionStringBuilder builder, string hostList)
    {
        if (hostList.Length == 0)
        {
            return;
        }

        var hosts = hostList.Split(',').Select(SplitHostPort).ToArray();
        if (hosts is [var (host, port)])
        {
            if (host.Length > 0)
            {
                builder.Host = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
            }

            if (port is { } p)
            {
                builder.Port = p;
            }

            return;
        }

        if (hosts.Any(h => h.Host.Length == 0))
        {
            throw Invalid("one of its hosts is empty");
        }

        builder.Host = string.Join(',', hosts.Select(h => h.Port is { } p ? $"{h.Host}:{p}" : h.Host));
    }

    private static (string Host, int? Port) SplitHostPort(string hostPort)
    {
        // The port follows the last colon, unless that colon is inside an [IPv6] literal.
        var colon = hostPort.LastIndexOf(':');
        if (colon < 0 || colon < hostPort.LastIndexOf(']'))
        {
            return (Decode(hostPort), null);
        }

        var portText = hostPort[(colon + 1)..];
        if (portText.Length == 0)
        {
            return (Decode(hostPort[..colon]), null);
        }

        return int.TryParse(portText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
            ? (Decode(hostPort[..colon]), port)
            : throw Invalid($"its port '{portText}' is not a number between 1 and 65535");
    }

    private static void SetParameter(NpgsqlConnectionStringBuilder builder, string name, string value)
    {
        switch (name.ToLowerInvariant())
        {
            case "host":
                SetHosts(builder, value);
                return;
            case "port":
                builder.Port = int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535
                    ? port
                    : throw Invalid($"its port parameter '{value}' is not a number between 1 and 65535");
                return;
            case "user":
                builder.Username = value;
                return;
            case "password":
                builder.Password = value;
                return;
            case "dbname":
                builder.Database = value;
                return;
            case "sslmode":
                builder["SSL Mode"] = SslModes.TryGetValue(value, out var mode)
                    ? mode
                    : throw Invalid($"sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full");
                return;
        }

        var keyword = LibpqParameters.GetValueOrDefault(name, name);
        try
        {
            builder[keyword] = value;
        }
        catch (ArgumentException)
        {
            // Not the value: it may be a password.
            throw Invalid($"its parameter '{name}' is not a libpq parameter Herald knows or an Npgsql connection string keyword, or its value is not valid");
        }
    }

    private static string Decode(string part)
    {
        // Uri would keep a broken escape as it is; libpq refuses it, and so do we.
        for (var i = part.IndexOf('%', StringComparison.Ordinal); i >= 0; i = part.IndexOf('%', i + 1))
        {
            if (i + 2 >= part.Length || !Uri.IsHexDigit(part[i + 1]) || !Uri.IsHexDigit(part[i + 2]))
            {
                throw Invalid("it has a % that is not followed by two hexadecimal digits (write a % itself as %25)");
            }
        }

        return Uri.UnescapeDataString(part);
    }

    private static ArgumentException Invalid(string problem) =>
        new($"The PostgreSQL URL is not valid: {problem}. {AcceptedForms}");
}
