using Automations.Cli;

namespace Automations.Api.Tests;

/// <summary>The `automations` tool against the Api: exit codes a CI job can use, errors naming the file, line, path and rule.</summary>
public class Running_the_automations_cli(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private async Task<(int Exit, string Out, string Err)> RunAsync(Applying_a_team_configuration.Team team, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var env = new Dictionary<string, string?> { ["AUTOMATIONS_API_KEY"] = team.Key, ["AUTOMATIONS_API_URL"] = fx.Api.Client.BaseAddress!.ToString() };
        var exit = await CommandLine.RunAsync(args, stdout, stderr, name => env.GetValueOrDefault(name));
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Should_exit_2_when_changes_are_planned_0_once_applied_and_1_on_an_error()
    {
        var team = await Applying_a_team_configuration.NewTeamAsync(fx);
        var dir = Directory.CreateTempSubdirectory("automations-cli");
        try
        {
            var file = Path.Combine(dir.FullName, "team.yaml");
            await File.WriteAllTextAsync(file, Applying_a_team_configuration.FullFile(team.Name));

            var plan = await RunAsync(team, "plan", "-f", file);
            Assert.Equal((CommandLine.ChangesPlanned, ""), (plan.Exit, plan.Err));
            Assert.Contains("+ automation mnist/evaluate new eval sets", plan.Out, StringComparison.Ordinal);
            Assert.Contains("7 to create", plan.Out, StringComparison.Ordinal);

            var apply = await RunAsync(team, "apply", "-f", file);
            Assert.Equal((CommandLine.NoChange, ""), (apply.Exit, apply.Err));
            Assert.Contains("Applied.", apply.Out, StringComparison.Ordinal);

            Assert.Equal(CommandLine.NoChange, (await RunAsync(team, "plan", "-f", file)).Exit);
            Assert.Contains("nothing to change", (await RunAsync(team, "apply", "-f", file)).Out, StringComparison.Ordinal);

            var exported = Path.Combine(dir.FullName, "exported.yaml");
            Assert.Equal(CommandLine.NoChange, (await RunAsync(team, "export", "--entity", team.Name, "-o", exported)).Exit);
            Assert.Equal(CommandLine.NoChange, (await RunAsync(team, "plan", "-f", exported)).Exit);
            var text = await File.ReadAllTextAsync(exported);
            Assert.DoesNotContain(Applying_a_team_configuration.GitHubToken, text, StringComparison.Ordinal);
            Assert.DoesNotContain("abcdefghijklmnopqrst", text, StringComparison.Ordinal);

            await File.WriteAllTextAsync(file, Applying_a_team_configuration.FullFile(team.Name).Replace("state: failed", "state: exploded", StringComparison.Ordinal));
            var bad = await RunAsync(team, "apply", "-f", file);
            Assert.Equal(CommandLine.Error, bad.Exit);
            var line = Applying_a_team_configuration.FullFile(team.Name).Split('\n').ToList().FindIndex(l => l.Contains("state: failed", StringComparison.Ordinal)) + 1;
            Assert.StartsWith($"{file}:{line}: automations[3].event.state: ", bad.Err, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Should_exit_1_naming_the_version_when_the_team_changed_since_the_plan()
    {
        var team = await Applying_a_team_configuration.NewTeamAsync(fx);
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, Applying_a_team_configuration.FullFile(team.Name));
            var stale = await RunAsync(team, "apply", "-f", file, "--version", "0000");
            Assert.Equal(CommandLine.Error, stale.Exit);
            Assert.Contains($"{file}: version: ", stale.Err, StringComparison.Ordinal);
            Assert.Equal(CommandLine.NoChange, (await RunAsync(team, "apply", "-f", file, "--version", "0000", "--force")).Exit);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Should_exit_1_without_a_key_or_with_a_member_key()
    {
        var noKey = await CommandLine.RunAsync(["export", "--entity", "acme", "--api", fx.Api.Client.BaseAddress!.ToString()], TextWriter.Null, new StringWriter(), _ => null);
        Assert.Equal(CommandLine.Error, noKey);
        var member = await RunAsync(new Applying_a_team_configuration.Team("acme", fx.MemberKey), "export", "--entity", "acme");
        Assert.Equal(CommandLine.Error, member.Exit);
        Assert.Contains("admin", member.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("version: 1\nentity: acme\n", "acme")]
    [InlineData("# comment\nentity: \"team-1.a\"  # ours\nqueues: []\n", "team-1.a")]
    [InlineData("version: 1\nqueues:\n  - entity: nested\n", null)]
    public void Should_read_the_team_from_the_files_top_level_entity(string yaml, string? entity) => Assert.Equal(entity, CommandLine.EntityOf(yaml));
}
