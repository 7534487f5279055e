using System.Net;
using Dapper;
using OpenQA.Selenium;
using static Automations.Console.Tests.OpsSteps;

namespace Automations.Console.Tests;

/// <summary>Launch in the console of its own: queues and their items by state, and creating queues, jobs and job versions.</summary>
[Collection("browser")]
public class Launching_jobs_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    [Fact]
    public async Task Should_show_each_queue_s_items_grouped_by_state_with_a_state_filter_and_how_far_back_they_reach()
    {
        var queue = await fx.CreateAsync("/v1/entities/acme/queues", new { name = Unique("gpu-"), description = "A100 pool" });
        var queueId = queue.GetProperty("id").GetGuid();
        // Items as LaunchEnqueuer writes them: one waiting, one that ran.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(
                """
                insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity, project, queue_id, job_id, job_name, job_version, event, state, exit_code, claimed_by)
                values (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'acme', 'mnist', @queueId, gen_random_uuid(), 'retrain', 2, '{}', 'queued', null, null),
                       (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'acme', 'mnist', @queueId, gen_random_uuid(), 'retrain', 1, '{}', 'finished', 0, 'agent-7')
                """, new { queueId });

        B.SignInToConsole(fx.MemberKey);
        B.FollowLink("nav[aria-label=Main] a[href='/acme/launch']", "/acme/launch", "#queue-filter");
        Assert.Equal("/acme/launch", B.Path0);
        Assert.Equal("Launch", B.Title);
        Assert.StartsWith("History is kept for 30 days (since ", B.Text("#launch-reach"));
        var section = B.Text($"#queue-{queueId}");
        Assert.Contains("A100 pool", section);
        Assert.Contains("queued (1)", section);
        Assert.Contains("finished (1)", section);
        Assert.Contains("retrain v1", section);
        Assert.Contains("agent-7", section);
        Assert.Contains("exit 0", section);
        // Members see the queues and may create jobs; queues are the admins'.
        Assert.Contains("Only team admins create queues", B.Text("#queues-members-note"));
        Assert.Empty(B.FindAll("#new-queue"));
        B.AssertEveryInputLabelled();
        B.Screenshot("launch");

        B.ChooseValue("#state", "finished");
        B.ClickAndWait("#queue-filter button[type=submit]");
        Assert.Equal("?state=finished", new Uri(B.Driver.Url).Query);
        section = B.Text($"#queue-{queueId}");
        Assert.Contains("finished (1)", section);
        Assert.DoesNotContain("queued (", section);
        Assert.Equal("finished", B.Find("#state").GetAttribute("value"));

        // An edited address: said at the filter, in words, and every state shown meanwhile.
        B.Go("/acme/launch?state=%3Cscript%3E");
        Assert.StartsWith("State must be one of queued, claimed", B.Text("#state-error"));
        Assert.Contains("queued (1)", B.Text($"#queue-{queueId}"));

        using var member = fx.ConsoleClient(B.Cookies());
        using var other = await member.GetAsync("/globex/launch");
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
    }

    [Fact]
    public void Should_create_a_queue_after_an_error_shown_once_at_its_field()
    {
        var name = Unique("cpu-");
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/launch");
        B.Fill("#queue-name", "not a name!");
        B.Fill("#queue-description", "Spare CPUs");
        B.Submit("#new-queue button[type=submit]");

        Assert.Equal("/acme/launch", B.Path0);
        Assert.Contains("letters, digits", B.Text("#queue-name-error"));
        Assert.StartsWith("Name ", B.Text("#queue-name-error"));
        Assert.Equal("true", B.Find("#queue-name").GetAttribute("aria-invalid"));
        Assert.Equal("Spare CPUs", B.Find("#queue-description").GetAttribute("value"));
        Assert.Single(B.FindAll(".message"));
        Assert.Single(B.FindAll("#new-queue .message.error"));
        Assert.Empty(B.FindAll("#new-job .error"));
        Assert.DoesNotContain("/v1/", B.Find("main").Text);
        B.Screenshot("launch-new-queue-error");

        B.Fill("#queue-name", name);
        B.Submit("#new-queue button[type=submit]");
        Assert.Equal("/acme/launch", B.Path0);
        var section = B.FindAll("main section").Single(s => s.FindElements(By.TagName("h2")).Any(h => h.Text == name));
        Assert.StartsWith($"Queue {name} created.", section.FindElement(By.CssSelector(".message.ok")).Text);
        Assert.Single(B.FindAll(".message"));
        Assert.Equal("", B.Find("#queue-name").GetAttribute("value"));
        // Shown once: a refresh neither repeats the message nor posts again.
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
    }

    [Fact]
    public void Should_create_a_job_by_keyboard_then_versions_started_from_the_list_of_its_versions()
    {
        var job = Unique("retrain-");
        B.SignInToConsole(fx.MemberKey);
        B.Go("/acme/launch");
        // Keyboard only: Tab to the job's name, type, Tab to the description, type, Enter submits.
        B.TabTo("job-name");
        B.Keys(job);
        B.Keys(Keys.Tab);
        Assert.Equal("job-description", B.Focused().GetAttribute("id"));
        B.Keys("Retrain the classifier");
        B.Submit(B.Focused(), Keys.Enter);

        Assert.StartsWith("/acme/launch/jobs/", B.Path0);
        Assert.Equal($"Job {job} created. Add its first version below.", B.Text("#job-message"));
        Assert.Equal("none yet", B.Text("#job-latest"));
        Assert.Empty(B.FindAll("#from"));
        B.AssertEveryInputLabelled();

        B.Fill("#version-command", "/bin/sh");
        B.SetValue("#version-args", "-c\necho $AUTOMATIONS_RUN_CONFIG");
        B.SetValue("#version-config", "{\"lr\": oops}");
        B.Submit("#new-version button[type=submit]");
        var jobPath = B.Path0;
        Assert.StartsWith("Default run config is not valid JSON: the problem is at line 1", B.Text("#version-config-error"));
        Assert.Equal("true", B.Find("#version-config").GetAttribute("aria-invalid"));
        Assert.Equal("/bin/sh", B.Find("#version-command").GetAttribute("value"));
        Assert.Single(B.FindAll(".message"));
        Assert.DoesNotContain("LineNumber", B.Source);
        B.Screenshot("launch-job-version-error");

        B.SetValue("#version-config", "{\"lr\": 0.1, \"model\": {\"layers\": 3}}");
        B.Submit("#new-version button[type=submit]");
        Assert.Equal(jobPath, B.Path0);
        Assert.Equal("Version 1 created.", B.Text("#version-1-message"));
        Assert.Single(B.FindAll(".message"));
        Assert.Contains("echo $AUTOMATIONS_RUN_CONFIG", B.Text("#version-1"));

        // The version to start from is chosen from the job's versions, not typed.
        var options = B.FindAll("#from option").Select(o => o.GetAttribute("value")).ToList();
        Assert.Equal(new[] { "", "1" }, options);
        B.ChooseValue("#from", "1");
        B.ClickAndWait("#start-from button[type=submit]");
        Assert.Equal("/bin/sh", B.Find("#version-command").GetAttribute("value"));
        Assert.Contains("\"layers\": 3", B.Find("#version-config").GetAttribute("value"));
        B.SetValue("#version-config", "{\"lr\": 0.05}");
        B.Submit("#new-version button[type=submit]");
        Assert.Equal("Version 2 created.", B.Text("#version-2-message"));
        Assert.Equal("v2", B.Text("#job-latest"));
        Assert.Equal(new[] { "", "2", "1" }, B.FindAll("#from option").Select(o => o.GetAttribute("value")).ToList());
        B.Screenshot("launch-job");

        B.Go(jobPath + "?from=9");
        Assert.Contains("no such version", B.Text("#from-error"));
        B.Go("/acme/launch");
        Assert.Contains("v2", B.FindAll("#jobs tbody tr").Single(r => r.Text.Contains(job, StringComparison.Ordinal)).Text);
    }
}
