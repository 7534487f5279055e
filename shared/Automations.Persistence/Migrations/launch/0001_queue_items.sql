-- Owned by LaunchEnqueuer. (Tables are added by the launch issue.)
select 1;
