using System.CommandLine;
using Herald.Access;
using Herald.Settings;
using Microsoft.Extensions.DependencyInjection;

namespace Herald.Cli;

/// <summary><c>herald settings show|set public-url</c>: the service's own settings, the same on
/// every node, through <see cref="PublicUrlService"/>.</summary>
internal static class SettingsCommands
{
    public static Command Create(CliConsole console)
    {
        var show = new Command("show", "Show the service's settings (the same on every node) and where each comes from.");
        show.SetNodeAction(console, async (node, parse, ct) =>
        {
            Print(console, await node.GetRequiredService<PublicUrlService>().ShowAsync(ct));
            return 0;
        });

        var url = new Argument<string>("url") { Description = "The address recipients reach Herald at, such as https://herald.example.org; '' removes it." };
        var publicUrl = new Command("public-url", "Set the address links in mail start with (unsubscribe links), for every node and the CLI.") { url };
        publicUrl.SetNodeAction(console, async (node, parse, ct) =>
        {
            var set = await node.GetRequiredService<PublicUrlService>().SetAsync(Caller.Operator, parse.GetValue(url), ct);
            if (set.Value is not { } view)
            {
                return console.Fail(set.Refusal!);
            }

            Print(console, view);
            return 0;
        });

        var set = new Command("set", "Change one of the service's settings.") { publicUrl };
        return new Command("settings", "The service's own settings, the same on every node (scopes' email settings: 'herald smtp').") { show, set };
    }

    private static void Print(CliConsole console, PublicUrlView view)
    {
        console.Out.WriteLine($"public url: {view.Url} ({(view.Source == PublicUrlSource.Stored ? "stored, used by every node" : "this process's configuration; none stored")})");
        if (view.Warning is { } warning)
        {
            console.Error.WriteLine($"warning: {warning}");
        }
    }
}
