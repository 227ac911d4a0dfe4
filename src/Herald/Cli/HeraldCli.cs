using System.CommandLine;
using Herald.Storage.Database;

namespace Herald.Cli;

/// <summary>The <c>herald</c> command: <c>serve</c> and every administrator verb.</summary>
internal static class HeraldCli
{
    public static readonly Option<string?> DataDirectory = new("--data-dir")
    {
        Description = $"Data directory with the embedded database (default: ${HeraldNode.DataDirectoryVariable} or ./{HeraldNode.DefaultDataDirectory}).",
        Recursive = true,
    };

    public static readonly Option<string?> Database = new("--database")
    {
        Description = $"PostgreSQL database shared by several nodes, as postgres://user:password@host:port/db (default: ${HeraldNode.DatabaseVariable}, else SQLite in the data directory).",
        Recursive = true,
    };

    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken = default)
    {
        // On an installed system the command reads the service's settings file (the package's
        // /usr/bin/herald names it), so that it works on the service's data by default.
        if (console.Environment(EnvironmentFile.Variable) is { Length: > 0 } file)
        {
            var (defaults, problem) = EnvironmentFile.Read(file);
            if (defaults is null)
            {
                return console.Fail(problem!);
            }

            console = console.WithDefaults(defaults);
        }

        var root = new RootCommand("Herald: outgoing email and notifications, configured once.")
        {
            DataDirectory,
            Database,
            ServeCommand.Create(console),
            ScopeCommands.Create(console),
            SmtpCommands.Create(console),
            SettingsCommands.Create(console),
            KeyCommands.Create(console),
            TestEmailCommand.Create(console),
            DoctorCommand.Create(console),
            ApiKeyCommands.Create(console),
            QueueCommands.Create(console),
            SuppressionCommands.Create(console),
            BounceCommands.Create(console),
            DeadLetterCommands.Create(console),
            WebhookCommands.Create(console),
            EventCommands.Create(console),
            ExplainCommand.Create(console),
            RelayCommands.Create(console),
            TemplateCommands.Create(console),
            AdminCommands.Create(console),
            BackupCommands.CreateBackup(console),
            BackupCommands.CreateRestore(console),
            NotificationCommands.CreateSubscription(console),
            NotificationCommands.CreateRule(console),
        };
        foreach (var command in DirectoryCommands.Create(console))
        {
            root.Subcommands.Add(command);
        }

        var parsed = root.Parse(args);
        return await parsed.InvokeAsync(new InvocationConfiguration { Output = console.Out, Error = console.Error }, cancellationToken);
    }

    /// <summary>The data directory and database a verb names (--data-dir, --database, or their
    /// variables), or why the database cannot be opened.</summary>
    public static (string DataDirectory, HeraldDatabase? Database, string? Problem) ResolveNode(ParseResult parse, CliConsole console)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var dataDirectory = HeraldNode.ResolveDataDirectory(parse.GetValue(DataDirectory), console);
        try
        {
            return (dataDirectory, HeraldNode.ResolveDatabase(parse.GetValue(Database), dataDirectory, console), null);
        }
        catch (ArgumentException ex)
        {
            return (dataDirectory, null, ex.Message);
        }
    }

    /// <summary>Makes a verb run against the node named by --data-dir, on a migrated database.</summary>
    public static void SetNodeAction(this Command command, CliConsole console, Func<IServiceProvider, ParseResult, CancellationToken, Task<int>> verb) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (dataDirectory, database, unusable) = ResolveNode(parse, console);
            if (database is null)
            {
                return console.Fail(unusable!);
            }

            await using var node = await HeraldNode.OpenAsync(dataDirectory, database, console, cancellationToken);
            if (HeraldNode.CheckSettings(node) is { } problem)
            {
                return console.Fail(problem);
            }

            return await verb(node, parse, cancellationToken);
        });
}
